"""Where the rule pages (``rules/ALnnn.md``) are: inside the installed package, or in the
source checkout when running from it (an editable install)."""

from __future__ import annotations

from pathlib import Path

import attnlint

# The wheel maps the repository's rules/ folder to the package attnlint/rulepages
# (see setup.py), so ``attnlint rule AL101`` works from an installed wheel.
_PACKAGED = Path(attnlint.__file__).resolve().parent / "rulepages"
_CHECKOUT = Path(attnlint.__file__).resolve().parent.parent / "rules"


def pages_dir() -> Path | None:
    for folder in (_PACKAGED, _CHECKOUT):
        if folder.is_dir() and any(folder.glob("AL*.md")):
            return folder
    return None


def rule_page(code: str) -> str | None:
    folder = pages_dir()
    if folder is None:
        return None
    page = folder / f"{code.upper()}.md"
    try:
        return page.read_text(encoding="utf-8")
    except OSError:
        return None
