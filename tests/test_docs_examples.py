"""Every fenced code block in README.md and docs/*.md is linted or executed here.

Conventions (a comment on the line right above a fence applies to that block):

- ``python`` blocks are examples of correct use: ``attnlint check`` finds nothing in them.
  A block whose free names are all provided by this module's context (a small attention
  ranker, a loader of ``(x, rel, mask)`` batches, ``listmle``, ``optimizer``, ``cfg``, ...)
  is also executed, in a temporary folder.
- ``<!-- attnlint: expect AL103 -->`` (or ``expect AL101, AL102``) marks an example of a
  mistake: ``attnlint check`` reports exactly those codes in it. README.md has none.
- ``<!-- attnlint: lint-only REASON -->`` marks a python block that needs something this
  module does not build (a Lightning module, a Hugging Face model): linted, not run. An
  unmarked block with unknown free names fails, so nothing goes unexecuted silently.
- ``bash``/``sh`` blocks: every ``attnlint ...`` command parses with the real CLI parser,
  every ``pip install ".[extra]"`` names extras pyproject.toml declares, every
  ``python path.py`` / ``python -m pytest`` names something that exists.
- ``toml`` blocks parse; those with ``[tool.attnlint]`` load through the real config loader.
- ``yaml`` blocks parse; a ``.pre-commit-config.yaml`` block names this repo's hook id.
- ``text`` blocks are sample output, checked by a dedicated test where one exists.
"""

from __future__ import annotations

import ast
import builtins
import contextlib
import io
import json
import re
import shlex
import tomllib
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from attnlint.cli import build_parser, main

REPO = Path(__file__).resolve().parent.parent
DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]

_FENCE = re.compile(
    r"^(?P<fence>```+)(?P<info>[^\n`]*)\n(?P<body>.*?)^(?P=fence)[ \t]*$", re.M | re.S
)
_MARK = re.compile(r"<!--\s*attnlint:\s*(?P<verb>[a-z-]+)(?P<rest>[^>]*?)\s*-->\s*$")
KNOWN_INFO = {"python", "bash", "sh", "toml", "yaml", "text"}


@dataclass(frozen=True)
class Block:
    path: Path
    line: int
    info: str
    body: str
    mark: tuple[str, str] | None  # (verb, rest) of the comment right above the fence

    @property
    def id(self) -> str:
        return f"{self.path.relative_to(REPO)}:{self.line}"


def blocks(path: Path) -> list[Block]:
    text = path.read_text(encoding="utf-8")
    out: list[Block] = []
    for match in _FENCE.finditer(text):
        line = text.count("\n", 0, match.start()) + 1
        before = text[: match.start()].rstrip("\n").rsplit("\n", 1)[-1]
        mark = _MARK.search(before)
        verb = (mark.group("verb"), mark.group("rest").strip()) if mark else None
        out.append(Block(path, line, match.group("info").strip(), match.group("body"), verb))
    return out


ALL = [b for path in DOCS for b in blocks(path)]


def of(*infos: str) -> list[Any]:
    return [pytest.param(b, id=b.id) for b in ALL if b.info in infos]


def test_blocks_found_and_labelled() -> None:
    assert len(ALL) >= 15, "the fence pattern no longer finds the docs' code blocks"
    unknown = [f"{b.id} ({b.info!r})" for b in ALL if b.info not in KNOWN_INFO]
    assert not unknown, f"code blocks need a language this test checks: {unknown}"
    readme = [b.id for b in ALL if b.path.name == "README.md" and b.mark and b.mark[0] == "expect"]
    assert not readme, f"README.md shows correct use only: {readme}"


def test_markers_are_known() -> None:
    for b in ALL:
        if b.mark is not None:
            assert b.mark[0] in ("expect", "lint-only"), f"{b.id}: unknown marker {b.mark}"
            assert b.info == "python", f"{b.id}: markers apply to python blocks"


# ---------------------------------------------------------------- python: lint


def lint(source: str, tmp_path: Path) -> set[str]:
    # A neutral file name: some rules stay quiet in test files.
    target = tmp_path / "example.py"
    target.write_text(source, encoding="utf-8")
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        status = main(["check", "--no-cache", "--output-format", "json", str(target)])
    assert status in (0, 1), f"attnlint check exited {status}"
    return {finding["code"] for finding in json.loads(out.getvalue())}


@pytest.mark.parametrize("block", of("python"))
def test_python_block_lints_as_marked(block: Block, tmp_path: Path) -> None:
    found = lint(block.body, tmp_path)
    if block.mark is not None and block.mark[0] == "expect":
        expected = {c.strip() for c in block.mark[1].split(",") if c.strip()}
        assert expected, f"{block.id}: 'expect' names no code"
        assert found == expected, f"{block.id}: a marked mistake must fire exactly {expected}"
    else:
        assert not found, f"{block.id}: an example of correct use fails attnlint check: {found}"


# ---------------------------------------------------------------- python: run


def free_names(source: str) -> set[str]:
    tree = ast.parse(source)
    bound: set[str] = set()
    loaded: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            (loaded if isinstance(node.ctx, ast.Load) else bound).add(node.id)
        elif isinstance(node, ast.alias):
            bound.add((node.asname or node.name).split(".")[0])
        elif isinstance(node, ast.FunctionDef | ast.ClassDef | ast.AsyncFunctionDef):
            bound.add(node.name)
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
    return loaded - bound - set(dir(builtins))


def context() -> dict[str, Any]:
    """What the guard examples take as given: a model that scores padded lists, a loader
    of (x, rel, mask) batches, a listwise loss, an optimizer and a config."""
    import torch
    from torch import nn

    from attnlint.demo.listmle import listmle_loss

    class Ranker(nn.Module):
        def __init__(self, dim: int = 6, hidden: int = 16) -> None:
            super().__init__()
            self.encoder = nn.Linear(dim, hidden)
            self.attention = nn.MultiheadAttention(hidden, 2, batch_first=True)
            self.scorer = nn.Linear(hidden, 1)

        def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
            h = torch.relu(self.encoder(x))
            a, _ = self.attention(h, h, h, key_padding_mask=~mask, need_weights=False)
            return self.scorer(h + a).squeeze(-1)

    gen = torch.Generator().manual_seed(0)
    loader = []
    for _ in range(3):
        x = torch.randn(4, 7, 6, generator=gen)
        rel = torch.randint(0, 4, (4, 7), generator=gen).float()
        mask = torch.arange(7)[None, :] < torch.tensor([[7], [5], [4], [6]])
        loader.append((x, rel, mask))
    torch.manual_seed(0)
    model = Ranker()
    cfg = SimpleNamespace(max_norm=5.0, lr=1e-3)
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    return {
        "torch": torch,
        "model": model,
        "loader": loader,
        "listmle": listmle_loss,
        "my_listmle": listmle_loss,
        "optimizer": optimizer,
        "opt": optimizer,
        "cfg": cfg,
        "max_norm": cfg.max_norm,
    }


CONTEXT_NAMES = {
    "torch", "model", "loader", "listmle", "my_listmle", "optimizer", "opt", "cfg", "max_norm"
}  # fmt: skip


@pytest.mark.parametrize("block", of("python"))
def test_python_block_runs_or_says_why_not(
    block: Block, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if block.mark is not None:
        assert block.mark[1], f"{block.id}: '{block.mark[0]}' needs a reason or codes"
        return  # a mistake or a lint-only example: linted above, not run
    missing = free_names(block.body) - CONTEXT_NAMES
    assert not missing, (
        f"{block.id}: uses {sorted(missing)}, which no example context provides: make the "
        "block self-contained or mark it <!-- attnlint: lint-only REASON -->"
    )
    monkeypatch.chdir(tmp_path)
    namespace = {"__name__": "__docs_example__", **context()}
    exec(compile(block.body, block.id, "exec"), namespace)
    guard = namespace.get("guard")
    if guard is not None:
        # the example ran the guard for real: it saw the attention and wrote its log
        assert guard.sites, f"{block.id}: the guard found no attention site"
        for log in tmp_path.glob("*.jsonl"):
            from attnlint.report.runlog import read_run_log

            assert read_run_log(log).steps, f"{block.id}: {log.name} has no step"


# ---------------------------------------------------------------- shell


def commands(body: str) -> list[list[str]]:
    out: list[list[str]] = []
    for raw in body.splitlines():
        line = raw.split(" #", 1)[0].strip()
        if not line or line.startswith("#"):
            continue
        for part in line.split("&&"):
            out.append(shlex.split(part.strip()))
    return out


def extras() -> set[str]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    return set(project["optional-dependencies"])


@pytest.mark.parametrize("block", of("bash", "sh"))
def test_shell_block_commands_exist(block: Block) -> None:
    parser = build_parser()
    for argv in commands(block.body):
        assert argv, f"{block.id}: empty command"
        tool, args = argv[0], argv[1:]
        if tool == "attnlint":
            try:
                parser.parse_args(args)
            except SystemExit as exc:
                pytest.fail(f"{block.id}: `{shlex.join(argv)}` does not parse ({exc.code})")
        elif tool == "pip":
            assert args[0] == "install", f"{block.id}: {argv}"
            for arg in args[1:]:
                wanted = re.search(r"\[(?P<x>[^\]]+)\]", arg)
                if wanted:
                    names = set(wanted.group("x").split(","))
                    assert names <= extras(), f"{block.id}: unknown extra in {arg}"
        elif tool == "python":
            if args[:2] == ["-m", "pytest"]:
                continue
            assert (REPO / args[0]).is_file(), f"{block.id}: no script {args[0]}"
        else:
            pytest.fail(f"{block.id}: a command this test does not know: {argv}")


# ---------------------------------------------------------------- toml / yaml / text


@pytest.mark.parametrize("block", of("toml"))
def test_toml_block_is_valid_configuration(block: Block, tmp_path: Path) -> None:
    from attnlint.config import load_config

    data = tomllib.loads(block.body)
    if "tool" in data:
        (tmp_path / "pyproject.toml").write_text(block.body, encoding="utf-8")
        load_config(tmp_path / "pyproject.toml", start=tmp_path)


@pytest.mark.parametrize("block", of("yaml"))
def test_yaml_block_parses_and_names_the_hook(block: Block) -> None:
    yaml = pytest.importorskip("yaml")
    data = yaml.safe_load(block.body)
    hooks = yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))
    ids = {hook["id"] for hook in hooks}
    for repo in data["repos"]:
        assert {hook["id"] for hook in repo["hooks"]} <= ids, f"{block.id}: unknown hook id"


def test_config_error_sample_is_what_attnlint_prints(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """docs/linting.md shows the one line a misspelt key produces."""
    samples = [b for b in ALL if b.info == "text" and "unknown key" in b.body]
    assert samples, "docs/linting.md no longer shows a configuration error"
    (sample,) = samples
    key = re.search(r"unknown key '(?P<k>[^']+)'", sample.body)
    assert key is not None
    (tmp_path / "pyproject.toml").write_text(f'[tool.attnlint]\n{key["k"]} = ["AL"]\n')
    (tmp_path / "train.py").write_text("x = 1\n")
    assert main(["check", "--no-cache", str(tmp_path / "train.py")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    for word in re.findall(r"'[^']+'|\S+\.toml", sample.body):
        assert word in err, f"the sample says {word}, attnlint prints {err!r}"


def test_ci_runs_the_readme_test_command_verbatim() -> None:
    """What README.md tells a contributor to run is what CI runs."""
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8").strip().splitlines()
    readme_lines = {
        line.strip()
        for b in ALL
        if b.path.name == "README.md" and b.info == "bash"
        for line in b.body.splitlines()
    }
    assert ci[-1].strip() in readme_lines
    torch_step = next(b for b in ALL if b.path.name == "README.md" and "torch==" in b.body)
    demo = next(b for b in ALL if b.path.name == "README.md" and "attnlint demo" in b.body)
    assert torch_step.line < demo.line, "the torch step comes before the command it applies to"
