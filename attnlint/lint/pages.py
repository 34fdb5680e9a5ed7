"""Where the rule pages (``rules/ALnnn.md``) and the guides (``docs/*.md``) are: inside the
installed package, or in the source checkout when running from it (an editable install).

The pages carry markers the test suite reads (```` ```python fires ````, ``# error:
AL101``); ``for_reading`` removes them before a page is shown to a person.
"""

from __future__ import annotations

import re
from pathlib import Path

import attnlint

# The wheel maps the repository's rules/ and docs/ folders to the packages
# attnlint/rulepages and attnlint/guides (see setup.py), so ``attnlint rule AL101`` and
# ``attnlint docs guard`` work from an installed wheel.
_HERE = Path(attnlint.__file__).resolve().parent
_PACKAGED, _CHECKOUT = _HERE / "rulepages", _HERE.parent / "rules"
_PACKAGED_GUIDES, _CHECKOUT_GUIDES = _HERE / "guides", _HERE.parent / "docs"


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


def guides_dir() -> Path | None:
    for folder in (_PACKAGED_GUIDES, _CHECKOUT_GUIDES):
        if folder.is_dir() and any(folder.glob("*.md")):
            return folder
    return None


def guides() -> dict[str, str]:
    """Guide name (the file name without ``.md``) -> its title (the first heading)."""
    folder = guides_dir()
    if folder is None:
        return {}
    out: dict[str, str] = {}
    for path in sorted(folder.glob("*.md")):
        title = path.stem
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.startswith("# "):
                title = line[2:].strip()
                break
        out[path.stem] = title
    return out


def guide(name: str) -> str | None:
    """A guide by name: ``guard``, ``guard.md`` and ``docs/guard.md`` are the same."""
    stem = Path(name).name.removesuffix(".md")
    folder = guides_dir()
    if folder is None or stem not in guides():
        return None
    return (folder / f"{stem}.md").read_text(encoding="utf-8")


_FENCE_INFO = re.compile(
    r"^(?P<fence>```+)python[ \t]+(?:fires|silent|fixed)\b(?P<options>[^\n]*)$", re.M
)
_ERROR_MARK = re.compile(r"[ \t]*#\s*error:\s*AL\d{3}(?:\s*,\s*AL\d{3})*[ \t]*$", re.M)
_DOC_MARK = re.compile(r"^<!--\s*attnlint:[^>]*-->[ \t]*\n", re.M)
# a link to another page: in a terminal it is the command that shows that page
_PAGE_LINK = re.compile(
    r"\[(?P<text>[^\]]+)\]\((?:\.\./)?(?:docs/|rules/)?(?P<stem>[\w-]+)\.md(?:#[\w-]*)?\)"
)


def for_reading(page: str) -> str:
    """The page without the markers the tests read: ```` ```python fires flag=x ```` becomes
    ```` ```python ````, ``  # error: AL101`` line ends go, ``<!-- attnlint: ... -->``
    comments go."""
    page = _FENCE_INFO.sub(_plain_fence, page)
    page = _ERROR_MARK.sub("", page)
    page = _PAGE_LINK.sub(_command_link, page)
    return _DOC_MARK.sub("", page)


def _plain_fence(match: re.Match[str]) -> str:
    # an example run with rule options says so in its first line, as the reader would set it
    options = match.group("options").split()
    head = f"{match.group('fence')}python"
    return f"{head}\n# with {', '.join(options)}" if options else head


def _command_link(match: re.Match[str]) -> str:
    text, stem = match.group("text"), match.group("stem")
    if re.fullmatch(r"AL\d{3}", stem):
        command = f"`attnlint rule {stem}`"
    elif stem in guides():
        command = f"`attnlint docs {stem}`"
    else:
        return text
    # a link that shows only the file name becomes the command; other text keeps it beside
    return command if text.strip("`").endswith(f"{stem}.md") else f"{text} ({command})"
