"""The wheel carries the rule pages, so `attnlint rule` works from an installed package."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SKIP = shutil.ignore_patterns(
    ".git", "__pycache__", "*.egg-info", ".venv", "build", "dist", ".*_cache", "demo-out", "runs"
)


def test_wheel_ships_every_rule_page(tmp_path: Path) -> None:
    pytest.importorskip("setuptools")
    src = tmp_path / "src"
    shutil.copytree(REPO, src, ignore=SKIP)  # build outputs stay out of the checkout
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(src), "--no-deps", "--no-build-isolation",
         "-q", "-w", str(tmp_path / "wheel")],
        capture_output=True, text=True,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    (wheel,) = (tmp_path / "wheel").glob("attnlint-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    pages = sorted(p.name for p in (REPO / "rules").glob("AL*.md"))
    assert pages, "no rule pages in rules/"
    assert {f"attnlint/rulepages/{name}" for name in pages} <= names
    assert "attnlint/cli.py" in names
    assert any(name.endswith("entry_points.txt") for name in names)
