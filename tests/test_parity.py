"""Every (architecture, head, framework): every output field equals transformers' PyTorch reference (fp32, <= 1e-5)."""

import pytest

from harness import (
    assert_close,
    cases,
    make_inputs,
    reference_config,
    reference_model,
    run_generated,
    run_reference,
)

FRAMEWORKS = ("torch", "tf", "flax")
CASES = cases()


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    """One saved reference model per case, shared by the three frameworks."""
    saved = {}

    def get(case, **overrides):
        key = (case, tuple(sorted(overrides.items())))
        if key not in saved:
            config = reference_config(case, **overrides)
            model = reference_model(case, config)
            directory = tmp_path_factory.mktemp(case.id)
            model.save_pretrained(directory)
            saved[key] = (config, model, str(directory))
        return saved[key]

    return get


@pytest.mark.parametrize("framework", FRAMEWORKS)
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_parity(case, framework, checkpoints):
    config, model, directory = checkpoints(case)
    inputs = make_inputs(case, config)
    reference = run_reference(model, inputs, framework)
    ours = run_generated(framework, case, directory, inputs)
    assert_close(reference, ours, framework)


PROBLEM_TYPES = [("regression", 1), ("single_label_classification", 3), ("multi_label_classification", 3)]


@pytest.mark.parametrize("framework", ("torch", "tf"))
@pytest.mark.parametrize("problem_type,num_labels", PROBLEM_TYPES)
@pytest.mark.parametrize("case", [c for c in CASES if c.head == "sequence_classification"], ids=lambda c: c.id)
def test_sequence_classification_losses(case, framework, problem_type, num_labels, checkpoints):
    config, model, directory = checkpoints(case, problem_type=problem_type, num_labels=num_labels)
    inputs = make_inputs(case, config)
    reference = run_reference(model, inputs, framework)
    ours = run_generated(framework, case, directory, inputs)
    assert "loss" in ours
    assert_close(reference, ours, framework)
