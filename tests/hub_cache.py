"""Laying out a Hugging Face Hub cache on disk, as huggingface_hub writes it, for loading model ids offline."""

import hashlib
import os
from pathlib import Path


def add_snapshot(cache: Path, repo_id: str, directory: Path, commit: str, branch: str = "main", subfolder: str = "") -> Path:
    """Put the files of `directory` into `cache` as the snapshot `commit` of the model repository `repo_id`.

    The layout is huggingface_hub's: `models--org--name/blobs/<sha256>` holds each file once,
    `snapshots/<commit>/<subfolder>/<file>` is a relative symlink to its blob, and `refs/<branch>` names the commit.
    Returns the snapshot's directory."""
    storage = Path(cache) / ("models--" + repo_id.replace("/", "--"))
    snapshot = storage / "snapshots" / commit / subfolder
    (storage / "blobs").mkdir(parents=True, exist_ok=True)
    snapshot.mkdir(parents=True, exist_ok=True)
    for source in sorted(Path(directory).iterdir()):
        data = source.read_bytes()
        blob = storage / "blobs" / hashlib.sha256(data).hexdigest()
        blob.write_bytes(data)
        link = snapshot / source.name
        link.symlink_to(os.path.relpath(blob, link.parent))
    (storage / "refs").mkdir(exist_ok=True)
    (storage / "refs" / branch).write_text(commit)
    return snapshot
