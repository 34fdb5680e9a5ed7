"""Every rule page in rules/ is executed: its examples are the rule's contract.

Page format (see any rules/ALnnn.md):

- the title is ``# ALnnn: rule-name`` and matches the rule class;
- ````` ```python fires````` blocks: a line ending in ``# error: AL101`` (or
  ``# error: AL101, AL102``) must produce exactly those codes, and no other line may
  produce the page's code or a code named in the block;
- ````` ```python silent````` blocks: no finding of the page's code;
- ````` ```python fixed````` block: the result of applying the rule's fixes (unsafe ones
  included) to the FIRST fires block with its ``# error:`` comments removed, compared
  exactly;
- after ``fires`` / ``silent``, ``key=value`` words set the rule's options for that block
  (````` ```python fires flag-constants=true`````).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from attnlint.lint.engine import analyse
from attnlint.lint.output import rule_catalogue
from attnlint.lint.rules import all_rules

PAGES = Path(__file__).resolve().parent.parent / "rules"
EXAMPLE_PATH = "example.py"  # not a test path: some rules stay quiet in tests

_FENCE = re.compile(r"^```python[ \t]+(?P<info>[^\n]*)\n(?P<body>.*?)^```[ \t]*$", re.M | re.S)
_ERROR = re.compile(r"#\s*error:\s*(?P<codes>AL\d{3}(?:\s*,\s*AL\d{3})*)\s*$")
_TITLE = re.compile(r"^# (?P<code>AL\d{3}): (?P<name>[a-z0-9-]+)\s*$", re.M)
_REQUIRED = ("## What it does", "## Why is this bad?", "## Example", "## Use instead")


@dataclass
class Block:
    kind: str
    source: str
    options: dict[str, object] = field(default_factory=dict)


@dataclass
class Page:
    path: Path
    code: str
    name: str
    text: str
    blocks: list[Block]


def parse_page(path: Path) -> Page:
    text = path.read_text(encoding="utf-8")
    title = _TITLE.search(text)
    assert title is not None, f"{path.name}: the first heading must be '# ALnnn: rule-name'"
    blocks: list[Block] = []
    for match in _FENCE.finditer(text):
        kind, *extras = match.group("info").split()
        options: dict[str, object] = {}
        for extra in extras:
            key, _, value = extra.partition("=")
            options[key] = json.loads(value)
        blocks.append(Block(kind, match.group("body"), options))
    return Page(path, title.group("code"), title.group("name"), text, blocks)


def expected_lines(source: str) -> set[tuple[int, str]]:
    out: set[tuple[int, str]] = set()
    for number, line in enumerate(source.splitlines(), start=1):
        match = _ERROR.search(line)
        if match:
            out |= {(number, code.strip()) for code in match.group("codes").split(",")}
    return out


def run(page: Page, block: Block, codes: set[str]) -> set[tuple[int, str]]:
    rules = [rule for code, rule in all_rules().items() if code in codes]
    if page.code == "AL001":  # only reported where some rule made libcst read the file
        rules = list(all_rules().values())
    options = {}
    if block.options:
        rule = all_rules()[page.code]
        options[page.code] = rule.Options.model_validate(block.options)
    found = analyse(block.source, EXAMPLE_PATH, rules=rules, options=options, check_syntax=True)
    return {(d.line, d.code) for d in found.diagnostics}


PAGE_FILES = sorted(PAGES.glob("AL*.md"))


def test_pages_exist() -> None:
    assert PAGE_FILES, "rules/ holds no pages"


def test_every_rule_has_a_page() -> None:
    pages = {path.stem for path in PAGE_FILES}
    missing = sorted(set(all_rules()) - pages)
    assert not missing, f"rules without a page in rules/: {missing}"


@pytest.mark.parametrize("path", PAGE_FILES, ids=lambda p: p.stem)
def test_page_structure(path: Path) -> None:
    page = parse_page(path)
    assert path.stem == page.code, f"{path.name} is titled {page.code}"
    rule = all_rules().get(page.code)
    if page.code in ("AL000", "AL001"):  # the engine's own codes, not rules
        assert page.name == rule_catalogue()[page.code][0]
    else:
        assert rule is not None, f"{path.name}: no rule has code {page.code}"
        assert rule.name == page.name, f"{path.name}: title says {page.name}, rule is {rule.name}"
    positions = [page.text.find(heading) for heading in _REQUIRED]
    assert all(p >= 0 for p in positions), f"{path.name}: needs sections {_REQUIRED}"
    assert positions == sorted(positions), f"{path.name}: sections out of order"
    kinds = [block.kind for block in page.blocks]
    assert "fires" in kinds and "silent" in kinds, f"{path.name}: needs fires and silent blocks"
    assert set(kinds) <= {"fires", "silent", "fixed"}, f"{path.name}: unknown block {kinds}"
    if "fixed" in kinds:
        assert "## Fix" in page.text, f"{path.name}: a fixed block belongs under '## Fix'"
    for option in rule.Options.model_fields if rule is not None else ():
        assert "## Options" in page.text, f"{path.name}: the rule has options; document them"
        assert option.replace("_", "-") in page.text, f"{path.name}: option {option} missing"


def _blocks(kind: str) -> list[tuple[Path, int]]:
    out = []
    for path in PAGE_FILES:
        page = parse_page(path)
        out += [(path, i) for i, block in enumerate(page.blocks) if block.kind == kind]
    return out


@pytest.mark.parametrize(("path", "index"), _blocks("fires"), ids=lambda v: str(v))
def test_fires_examples(path: Path, index: int) -> None:
    page = parse_page(path)
    block = page.blocks[index]
    expected = expected_lines(block.source)
    assert any(code == page.code for _, code in expected), (
        f"{path.name} block {index}: no line is marked '# error: {page.code}'"
    )
    codes = {page.code} | {code for _, code in expected}
    assert run(page, block, codes) == expected


@pytest.mark.parametrize(("path", "index"), _blocks("silent"), ids=lambda v: str(v))
def test_silent_examples(path: Path, index: int) -> None:
    page = parse_page(path)
    block = page.blocks[index]
    assert not expected_lines(block.source), "a silent block carries no '# error:' marks"
    assert run(page, block, {page.code}) == set()


@pytest.mark.parametrize(("path", "index"), _blocks("fixed"), ids=lambda v: str(v))
def test_fixed_examples(path: Path, index: int) -> None:
    from attnlint.lint.fixer import apply_fixes

    page = parse_page(path)
    rule = all_rules()[page.code]
    first = next(block for block in page.blocks if block.kind == "fires")
    options = {page.code: rule.Options.model_validate(first.options)} if first.options else None
    source = re.sub(r"[ \t]*#\s*error:[^\n]*", "", first.source)
    result = apply_fixes(source, EXAMPLE_PATH, rules=[rule], options=options, unsafe=True)
    assert result.source == page.blocks[index].source
