"""Without TensorFlow or JAX (or PyTorch), `import specformers` still works: the classes of a missing framework are
absent (`hasattr` is False, `import *` leaves them out) and importing one by name says which extra to install.

Each check runs in a subprocess whose import system refuses the hidden frameworks, as an installation without them
would: a meta-path finder makes `import tensorflow` (jax, flax, keras, ...) raise ModuleNotFoundError."""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

GENERATED = Path(__file__).resolve().parent.parent / "generated"

HIDE = """
import sys

class HideFrameworks:
    '''Refuses the packages of the frameworks that this "installation" lacks.'''

    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in HIDDEN:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None

sys.meta_path.insert(0, HideFrameworks())
"""


def run_without(hidden: tuple, code: str) -> None:
    script = f"HIDDEN = {hidden!r}\n{HIDE}\n{textwrap.dedent(code)}\nprint('OK')\n"
    env = {**os.environ, "PYTHONPATH": str(GENERATED), "TF_CPP_MIN_LOG_LEVEL": "2"}
    result = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and result.stdout.strip().endswith("OK"), result.stdout + result.stderr


def test_torch_only_installation():
    run_without(
        # A `specformers[torch]` installation: no transformers either (only the Trainer integration imports it).
        ("tensorflow", "keras", "tf_keras", "jax", "jaxlib", "flax", "optax", "transformers"),
        """
        import pytest
        import specformers
        from specformers.models import albert

        assert not hasattr(specformers, "TFAlbertModel") and not hasattr(specformers, "FlaxT5Model")
        assert not hasattr(albert, "TFAlbertModel") and hasattr(albert, "AlbertConfig")
        assert "TFAlbertModel" not in dir(specformers) and "AlbertModel" in dir(specformers)
        with pytest.raises(AttributeError, match=r"pip install 'specformers\\[tf\\]'"):
            specformers.TFBertModel
        with pytest.raises(ImportError, match=r"TFAlbertModel needs TensorFlow.*specformers\\[tf\\]"):
            from specformers import TFAlbertModel
        with pytest.raises(ImportError, match=r"FlaxAlbertModel needs JAX and Flax.*specformers\\[flax\\]"):
            from specformers import FlaxAlbertModel
        with pytest.raises(ImportError, match=r"specformers\\[flax\\]"):
            from specformers.models.albert import FlaxAlbertForMaskedLM
        with pytest.raises(ImportError, match=r"SaveConfigCallback needs transformers.*pip install 'specformers\\[torch\\]' transformers"):
            from specformers import SaveConfigCallback

        namespace = {}
        exec("from specformers import *", namespace)
        assert "AlbertModel" in namespace and "BertConfig" in namespace and "TFAlbertModel" not in namespace
        assert "tensorflow" not in sys.modules and "jax" not in sys.modules and "SaveConfigCallback" not in namespace
        assert hasattr(specformers, "AlbertModel")
        """,
    )


def test_no_framework_installed():
    run_without(
        ("torch", "tensorflow", "keras", "tf_keras", "jax", "jaxlib", "flax", "optax"),
        """
        import pytest
        import specformers

        with pytest.raises(ImportError, match=r"AlbertModel needs PyTorch.*specformers\\[torch\\]"):
            from specformers import AlbertModel
        namespace = {}
        exec("from specformers import *", namespace)
        assert "AlbertConfig" in namespace and "PretrainedConfig" in namespace and "AlbertModel" not in namespace
        assert specformers.AlbertConfig(hidden_size=16, num_attention_heads=2).hidden_size == 16
        """,
    )
