"""The wheel carries the rule pages, so `attnlint rule` works from an installed package."""

from __future__ import annotations

import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def test_wheel_ships_every_rule_page(built_wheel: Path) -> None:
    names = set(zipfile.ZipFile(built_wheel).namelist())
    pages = sorted(p.name for p in (REPO / "rules").glob("AL*.md"))
    assert pages, "no rule pages in rules/"
    assert {f"attnlint/rulepages/{name}" for name in pages} <= names
    assert "attnlint/cli.py" in names
    assert any(name.endswith("entry_points.txt") for name in names)
