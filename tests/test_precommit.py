"""End to end: the `attnlint` hook of .pre-commit-hooks.yaml, run by pre-commit itself.

pre-commit installs the hook into its own virtualenv from PyPI (libcst, pydantic, ...), so
this test needs the network once per PRE_COMMIT_HOME; the session fixture shares one.
Deselect with ``-m "not precommit"``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.precommit

REPO = Path(__file__).resolve().parent.parent
SKIP = shutil.ignore_patterns(
    ".git", "__pycache__", "*.egg-info", ".venv", "build", "dist", ".*_cache", "demo-out", "runs"
)
GIT = ["git", "-c", "user.name=attnlint-test", "-c", "user.email=test@example.invalid"]


def _git(*args: str, cwd: Path) -> None:
    subprocess.run([*GIT, *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture(scope="session")
def hook_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """This checkout's working tree as a one-commit repository.

    ``try-repo`` on a dirty checkout takes only tracked files; copying the tree makes the
    test see exactly what is on disk, committed or not.
    """
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    copy = tmp_path_factory.mktemp("hook-repo") / "attnlint"
    shutil.copytree(REPO, copy, ignore=SKIP)
    _git("init", "-q", cwd=copy)
    _git("add", "-A", cwd=copy)
    _git("commit", "-q", "-m", "snapshot", cwd=copy)
    return copy


def _try_repo(hook_repo: Path, user_repo: Path, home: Path, *files: str):
    env = dict(os.environ, PRE_COMMIT_HOME=str(home), PRE_COMMIT_COLOR="never")
    return subprocess.run(
        [sys.executable, "-m", "pre_commit", "try-repo", str(hook_repo), "attnlint", "--files",
         *files],
        cwd=user_repo, env=env, capture_output=True, text=True, timeout=900,
    )  # fmt: skip


def test_hook_fails_on_bad_file_and_passes_on_good(
    hook_repo: Path, pre_commit_home: Path, tmp_path: Path
) -> None:
    user = tmp_path / "user"
    user.mkdir()
    (user / "bad.py").write_text("import torch\nopt = torch.optim.Adam(p, lr=1e-3)\n")
    (user / "good.py").write_text("import torch\nopt = torch.optim.Adam(p, lr=cfg.lr)\n")
    _git("init", "-q", cwd=user)
    _git("add", "-A", cwd=user)

    bad = _try_repo(hook_repo, user, pre_commit_home, "bad.py")
    assert bad.returncode == 1, bad.stdout + bad.stderr
    assert "bad.py:2:" in bad.stdout and "AL101" in bad.stdout

    good = _try_repo(hook_repo, user, pre_commit_home, "good.py")
    assert good.returncode == 0, good.stdout + good.stderr
    assert "Passed" in good.stdout
