"""A Hugging Face repo id (`Qwen/Qwen3-0.6B`) resolved in the local hub cache, never over the network.

The hub's layout: CACHE/models--ORG--NAME/refs/REVISION holds a commit hash, and
CACHE/models--ORG--NAME/snapshots/COMMIT/ is the checkout (symlinks into blobs/). CACHE is
--download-dir, else HF_HUB_CACHE, else HF_HOME/hub, else ~/.cache/huggingface/hub (as huggingface_hub).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from engine.errors import ModelLoadError

REPO_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
COMMIT = re.compile(r"^[0-9a-f]{40}$")


def hub_cache_dir(download_dir: str | None = None) -> Path:
    if download_dir:
        return Path(download_dir).expanduser()
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"]).expanduser()
    hf_home = os.environ.get("HF_HOME") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "huggingface"
    )
    return Path(hf_home).expanduser() / "hub"


def looks_like_repo_id(model: str) -> bool:
    return bool(REPO_ID.match(model)) and not Path(model).exists()


def resolve_repo_id(repo_id: str, revision: str | None = None, download_dir: str | None = None) -> Path:
    """The snapshot directory of repo_id at revision (a branch or tag name, or a commit; default main)."""
    cache = hub_cache_dir(download_dir)
    repo_dir = cache / ("models--" + repo_id.replace("/", "--"))
    revision = revision or "main"
    ref = repo_dir / "refs" / revision
    commit = ref.read_text().strip() if ref.is_file() else revision
    snapshot = repo_dir / "snapshots" / commit
    if COMMIT.match(commit) and snapshot.is_dir():
        return snapshot
    raise ModelLoadError(
        f"{repo_id} (revision {revision}) is not in the local Hugging Face cache {cache}; the engine never "
        f"downloads: fetch it first (`huggingface-cli download {repo_id}`) or give a directory"
    )
