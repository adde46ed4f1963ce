"""Loading Hugging Face Hub model ids (`from_pretrained("org/name")`) through huggingface_hub's cache, offline.

No Hub is reachable here: the tests lay out a cache on disk as huggingface_hub writes it (`hub_cache.add_snapshot`)
from small random checkpoints, and load ids from it in the three frameworks, by branch, commit and subfolder. A missing
id, revision or cache, and a Hub that cannot be reached, are errors naming the id and the cache looked in."""

import numpy as np
import pytest
import torch

from hub_cache import add_snapshot

MAIN = "a" * 40  # commit of branch main
OTHER = "b" * 40  # commit of branch v2 (other weights, another hidden_act)
REPO = "org/tiny-albert"


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    """`(cache, models)`: a cache holding REPO at MAIN (branch main; the model also in subfolder `encoder`) and at
    OTHER (branch v2), with the PyTorch models saved there by commit."""
    from specformers import AlbertConfig, AlbertModel

    root = tmp_path_factory.mktemp("hub")
    cache = root / "cache"
    models = {}
    for commit, branch, act in ((MAIN, "main", "gelu_new"), (OTHER, "v2", "relu")):
        torch.manual_seed(len(models))
        config = AlbertConfig(
            vocab_size=40, embedding_size=8, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
            intermediate_size=24, max_position_embeddings=32, hidden_act=act,
        )
        models[commit] = AlbertModel(config)
        models[commit].save_pretrained(root / commit)
        add_snapshot(cache, REPO, root / commit, commit, branch)
    add_snapshot(cache, REPO, root / MAIN, MAIN, "main", subfolder="encoder")
    return cache, models


def _same_weights(state: dict, model) -> bool:
    ours = model.state_dict()
    return state.keys() == ours.keys() and all(np.array_equal(np.asarray(state[k]), ours[k].numpy()) for k in ours)


def test_torch_loads_ids_by_branch_commit_and_subfolder(hub):
    from specformers import AlbertModel

    cache, models = hub
    offline = {"cache_dir": cache, "local_files_only": True}
    for kwargs, commit in (
        ({}, MAIN),
        ({"revision": "v2"}, OTHER),
        ({"revision": OTHER}, OTHER),
        ({"subfolder": "encoder"}, MAIN),
    ):
        model = AlbertModel.from_pretrained(REPO, **offline, **kwargs)
        assert _same_weights(model.state_dict(), models[commit]), kwargs
        assert model.config.hidden_act == models[commit].config.hidden_act


def test_config_from_id(hub, monkeypatch):
    from huggingface_hub import constants

    from specformers import AlbertConfig

    cache, models = hub
    assert AlbertConfig.from_pretrained(REPO, cache_dir=cache, local_files_only=True) == models[MAIN].config
    assert AlbertConfig.from_pretrained(REPO, cache_dir=cache, local_files_only=True, revision="v2").hidden_act == "relu"
    # HF_HUB_CACHE (or HF_HOME) and HF_HUB_OFFLINE, as huggingface_hub read them at import, without keywords.
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    assert AlbertConfig.from_pretrained(REPO, subfolder="encoder", output_hidden_states=True).output_hidden_states


def test_tf_and_flax_load_ids(hub):
    from specformers import FlaxAlbertModel, TFAlbertModel

    cache, models = hub
    tf_model = TFAlbertModel.from_pretrained(REPO, cache_dir=cache, local_files_only=True, revision="v2")
    variables = tf_model.pytorch_weight_map().variables
    reference = models[OTHER].state_dict()
    assert variables.keys() == reference.keys()
    for name, (variable, transposed) in variables.items():
        value = variable.numpy().T if transposed else variable.numpy()
        np.testing.assert_array_equal(value, reference[name].numpy(), err_msg=name)
    flax_model = FlaxAlbertModel.from_pretrained(REPO, cache_dir=cache, local_files_only=True, subfolder="encoder")
    assert _same_weights(flax_model.state_dict(), models[MAIN])


def test_missing_id_revision_or_file_is_a_clear_error(hub, tmp_path, monkeypatch):
    from specformers import AlbertConfig, AlbertModel

    cache, _ = hub
    with pytest.raises(OSError) as info:
        AlbertModel.from_pretrained("org/absent", cache_dir=cache, local_files_only=True)
    message = str(info.value)
    assert "'org/absent'" in message and f"cache at {cache} holds no copy" in message and "Offline mode" in message
    with pytest.raises(OSError, match=r"'org/tiny-albert' \(revision 'v3'\).*branches: main, v2"):
        AlbertConfig.from_pretrained(REPO, cache_dir=cache, local_files_only=True, revision="v3")
    with pytest.raises(OSError, match=r"looked for decoder/config.json"):
        AlbertModel.from_pretrained(REPO, cache_dir=cache, local_files_only=True, subfolder="decoder")
    # A path that is not a directory, and cannot be an id either.
    with pytest.raises(OSError, match="is not a directory, nor a model id of the Hugging Face Hub"):
        AlbertModel.from_pretrained(tmp_path / "missing")


def test_unreachable_hub_is_a_clear_error(tmp_path, monkeypatch):
    """Online (not offline), a Hub that cannot be reached and an empty cache: the error says both."""
    import huggingface_hub.file_download
    import requests
    from huggingface_hub import constants

    from specformers import AlbertModel

    def refuse(*args, **kwargs):
        raise requests.ConnectionError("Failed to establish a new connection: [Errno 111] Connection refused")

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(huggingface_hub.file_download, "get_hf_file_metadata", refuse)
    with pytest.raises(OSError) as info:
        AlbertModel.from_pretrained("org/absent", cache_dir=tmp_path)
    message = str(info.value)
    assert "'org/absent'" in message and f"cache at {tmp_path} holds no copy" in message
    assert "could not be reached (ConnectionError: Failed to establish a new connection" in message
    assert "check the network connection" in message


def test_token_and_options_reach_huggingface_hub(hub, monkeypatch):
    """`token`, `force_download` and `proxies` are passed to huggingface_hub as transformers passes them."""
    import huggingface_hub

    from specformers import AlbertConfig

    cache, _ = hub
    calls = []
    download = huggingface_hub.hf_hub_download

    def recording(*args, **kwargs):
        calls.append(kwargs)
        return download(*args, **{**kwargs, "force_download": False, "proxies": None})

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", recording)
    proxies = {"https": "http://proxy:3128"}
    AlbertConfig.from_pretrained(REPO, cache_dir=cache, local_files_only=True, token="hf_x", proxies=proxies)
    assert calls[-1]["token"] == "hf_x" and calls[-1]["proxies"] == proxies and calls[-1]["local_files_only"]
