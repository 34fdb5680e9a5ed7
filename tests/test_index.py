"""The project index: summaries, resolution across modules, the cache, pre-commit runs.

AL103 (a clip norm returned by a project helper and dropped by its caller) is the probe:
its fact lives in the callee, its finding at the call.
"""

from __future__ import annotations

import json
import textwrap
from collections.abc import Iterator
from pathlib import Path

import libcst as cst
import pytest
from _index_repos import check, line_of, where, write_repo

from attnlint.lint import resolve
from attnlint.lint.engine import analyse, lint_source
from attnlint.lint.index import RETURN, ModuleSummary, Pending
from attnlint.lint.project import MAX_DEPTH, module_name
from attnlint.lint.rule import Rule, RuleContext
from attnlint.lint.rules import all_rules
from attnlint.lint.rules.al103 import RETURNS_NORM, UnloggedGradClip

CLIP_UTILS = """\
    import torch


    def clip_gradients(model, max_norm):
        return torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm)
    """

LOOP = """\
    from {module} import clip_gradients


    def train_epoch(model, loader, optimizer, cfg):
        for batch in loader:
            optimizer.zero_grad()
            loss = model(batch).mean()
            loss.backward()
            clip_gradients(model, cfg.max_norm)
            optimizer.step()
    """


def _repo(tmp_path: Path, module: str = "project.utils.grads", loop: str = LOOP) -> Path:
    return write_repo(
        tmp_path,
        {
            "project/__init__.py": "",
            "project/utils/__init__.py": "",
            "project/utils/grads.py": CLIP_UTILS,
            "project/train.py": loop.format(module=module),
        },
    )


@pytest.mark.parametrize(
    "module", ["project.utils.grads", ".utils.grads"], ids=["absolute", "relative"]
)
def test_dropped_norm_of_a_helper_in_another_module(tmp_path: Path, module: str) -> None:
    root = _repo(tmp_path, module)
    found = check(root, codes=("AL103",))
    line = line_of(root, "project/train.py", "clip_gradients(model, cfg")
    assert where(found) == [("project/train.py", line, "AL103")]
    assert (
        "returned by torch.nn.utils.clip_grad_norm_ in clip_gradients "
        "(project/utils/grads.py:4), called here, is discarded"
    ) in found[0].message
    assert found[0].column == 9


def test_module_alias_and_reexport(tmp_path: Path) -> None:
    loop = LOOP.replace("from {module} import clip_gradients", "import project.utils as U")
    loop = loop.replace("            clip_gradients(", "            U.clip_gradients(")
    root = _repo(tmp_path, loop=loop)
    (root / "project/utils/__init__.py").write_text("from .grads import clip_gradients\n")
    found = check(root, codes=("AL103",))
    assert where(found) == [("project/train.py", 9, "AL103")]


def test_used_norm_is_silent(tmp_path: Path) -> None:
    loop = LOOP.replace(
        "            clip_gradients(model, cfg.max_norm)\n",
        "            grad_norm = clip_gradients(model, cfg.max_norm)\n"
        "            print('grad_norm', float(grad_norm))\n",
    )
    assert check(_repo(tmp_path, loop=loop), codes=("AL103",)) == []


def test_helper_that_returns_nothing_is_silent(tmp_path: Path) -> None:
    root = _repo(tmp_path)
    (root / "project/utils/grads.py").write_text(
        "import torch\n\n\ndef clip_gradients(model, clip_value):\n"
        "    torch.nn.utils.clip_grad_value_(model.parameters(), clip_value)\n"
    )
    assert check(root, codes=("AL103",)) == []


def test_norm_returned_through_a_name_and_a_method_chain() -> None:
    source = textwrap.dedent(
        """\
        import torch


        class Trainer:
            def __init__(self, model, accelerator, cfg):
                self.model, self.accelerator, self.cfg = model, accelerator, cfg

            def _clip(self):
                norm = self.accelerator.clip_grad_norm_(self.model.parameters(), self.cfg.clip)
                return norm.item()

            def backward_and_clip(self, loss):
                self.accelerator.backward(loss)
                return self._clip()

            def step(self, loss, optimizer):
                self.backward_and_clip(loss)
                optimizer.step()
        """
    )
    found = lint_source(source, "trainer.py", rules=[UnloggedGradClip])
    assert [(d.line, d.code) for d in found] == [(17, "AL103")]
    assert "Trainer.backward_and_clip (trainer.py:12)" in found[0].message


def test_depth_is_bounded() -> None:
    # clip -> level1 -> ... : the call site sees the fact only MAX_DEPTH calls deep.
    chain = [
        "import torch",
        "",
        "def clip_level0(m):",
        "    return torch.nn.utils.clip_grad_norm_(m, 1)",
    ]
    for depth in range(1, MAX_DEPTH + 2):
        chain += ["", f"def clip_level{depth}(m):", f"    return clip_level{depth - 1}(m)"]
    chain += ["", "def loop(m):"]
    chain += [f"    clip_level{depth}(m)" for depth in range(MAX_DEPTH + 2)]
    found = lint_source("\n".join(chain) + "\n", "loop.py", rules=[UnloggedGradClip])
    reached = [d.message.split(" in ")[1].split(" ")[0] for d in found]
    assert reached == [f"clip_level{depth}" for depth in range(MAX_DEPTH)]


def test_noqa_on_the_call_line() -> None:
    source = (
        textwrap.dedent(CLIP_UTILS)
        + "\n\ndef loop(model):\n    clip_gradients(model, 1)  # noqa: AL103\n"
    )
    assert lint_source(source, "loop.py", rules=[UnloggedGradClip]) == []


def test_precommit_on_one_file_reads_only_what_it_imports(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = _repo(tmp_path)
    for n in range(5):  # unrelated modules a whole-tree read would touch
        (root / f"project/other{n}.py").write_text("import torch\nclip = 1\n")
    loaded: list[str] = []
    original = resolve._Loader.__call__

    def spy(self: resolve._Loader, path: Path) -> ModuleSummary | None:
        loaded.append(path.relative_to(root.resolve()).as_posix())
        return original(self, path)

    monkeypatch.setattr(resolve._Loader, "__call__", spy)
    found = check(root, ["project/train.py"], codes=("AL103",))
    assert where(found) == [("project/train.py", 9, "AL103")]
    assert sorted(loaded) == ["project/train.py", "project/utils/grads.py"]


def test_warm_run_decides_from_cached_summaries(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = _repo(tmp_path)
    cold = check(root, codes=("AL103",))
    assert len(cold) == 1

    def no_parse(*args: object, **kwargs: object) -> None:
        raise AssertionError("a warm run parsed a file")

    monkeypatch.setattr("attnlint.lint.engine.analyse", no_parse)
    assert check(root, codes=("AL103",)) == cold
    # Only the changed caller is checked now; the helper's summary comes from the cache.
    assert check(root, ["project/train.py"], codes=("AL103",)) == cold


def test_changed_helper_changes_the_callers_finding(tmp_path: Path) -> None:
    root = _repo(tmp_path)
    assert len(check(root, codes=("AL103",))) == 1
    (root / "project/utils/grads.py").write_text(
        "import torch\n\n\ndef clip_gradients(model, max_norm):\n"
        "    torch.nn.utils.clip_grad_value_(model.parameters(), max_norm)\n"
    )
    assert check(root, codes=("AL103",)) == []


def test_summary_and_pending_survive_json() -> None:
    source = textwrap.dedent(CLIP_UTILS) + "\n\ndef loop(model):\n    clip_gradients(model, 1)\n"
    found = analyse(source, "loop.py", [UnloggedGradClip], resolve=False)
    assert found.summary is not None and len(found.pending) == 1
    data = json.loads(json.dumps(found.summary.to_json()))
    summary = ModuleSummary.from_json(data)
    assert summary.functions["clip_gradients"].facts == {
        RETURNS_NORM: {RETURN: "torch.nn.utils.clip_grad_norm_"}
    }
    assert summary.functions["loop"].flows[0].callee == "clip_gradients"
    pending = Pending.from_json(json.loads(json.dumps(found.pending[0].to_json())))
    assert pending == found.pending[0]


def test_module_name_from_the_init_chain(tmp_path: Path) -> None:
    root = _repo(tmp_path)
    assert module_name(root / "project/utils/grads.py") == (
        "project.utils.grads",
        "project.utils",
        root,
    )
    assert module_name(root / "project/utils/__init__.py")[:2] == ("project.utils",) * 2


def test_def_lines_skip_docstring_examples() -> None:
    source = textwrap.dedent(
        '''\
        import torch


        def first():
            """Example:

            >>> def clip(model):
            ...     return 1
            """


        def clip(model):
            return torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)


        def loop(model):
            clip(model)
        '''
    )
    (finding,) = lint_source(source, "loop.py", rules=[UnloggedGradClip])
    assert "clip (loop.py:12)" in finding.message


class _ScrubAtHelper(Rule):
    """Test-only: ``torch.nan_to_num(p)`` in a helper is the finding, when a caller hands
    it ``scores`` (the shape of a finding placed in the callee, ``at_callee``)."""

    code = "XX902"
    name = "test-at-callee"
    summary = "a finding placed in the callee"
    triggers = ("scores", "nan_to_num")

    def __init__(self, context: RuleContext, options: object = None) -> None:
        super().__init__(context, None)
        self._functions: list[cst.FunctionDef] = []

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        self._functions.append(node)

    def leave_FunctionDef(self, original_node: cst.FunctionDef) -> None:
        self._functions.pop()

    def visit_Call(self, node: cst.Call) -> None:
        name = self.context.qualname(node.func)
        if name == "torch.nan_to_num" and self._functions and node.args:
            arg = node.args[0].value
            if isinstance(arg, cst.Name):
                self.context.index.fact_at(self._functions[-1], "xx.scrubs", arg.value, node)
        for position, arg in enumerate(node.args):
            if isinstance(arg.value, cst.Name) and arg.value.value == "scores":
                self.report_if(
                    arg.value, node, position, "xx.scrubs", "scrubbed, fed by {caller}",
                    at_callee=True,
                )  # fmt: skip


@pytest.fixture
def at_callee_rule() -> Iterator[None]:
    catalogue = all_rules()
    catalogue["XX902"] = _ScrubAtHelper
    yield
    del catalogue["XX902"]


def test_a_finding_placed_in_the_callee(tmp_path: Path, at_callee_rule: None) -> None:
    root = write_repo(
        tmp_path,
        {
            "losses.py": "import torch\n\n\ndef soft_rank(s):\n    return torch.nan_to_num(s)\n",
            "train.py": (
                "from losses import soft_rank\n\n\ndef step(model, x):\n"
                "    scores = model(x)\n    return soft_rank(scores)\n\n\n"
                "def evaluate(model, x):\n    scores = model(x)\n    return soft_rank(scores)\n"
            ),
        },
    )
    found = check(root, codes=("XX902",))
    # Once, in the helper's file, at the scrub; the message names a caller.
    assert [(f.path, f.line, f.column) for f in found] == [("losses.py", 5, 12)]
    assert "fed by step (train.py:6)" in found[0].message
    # Checking only the caller: the helper's file is not checked, so nothing is reported.
    assert check(root, ["train.py"], codes=("XX902",)) == []


OTHER_LIBRARIES = {
    "accelerate": (
        "def clip(accelerator, model, cfg):\n"
        "    return accelerator.clip_grad_norm_(model.parameters(), cfg.max_norm)\n"
    ),
    "fabric": (
        "def clip(fabric, model, optimizer, cfg):\n"
        "    return fabric.clip_gradients(model, optimizer, max_norm=cfg.max_norm)\n"
    ),
    "deepspeed": (
        "from deepspeed.runtime.utils import clip_grad_norm_\n\n\n"
        "def clip(model, cfg):\n"
        "    total = clip_grad_norm_(model.parameters(), cfg.max_norm)\n"
        "    return total\n"
    ),
    "fsdp": "def clip(model, cfg):\n    return model.clip_grad_norm_(cfg.max_norm)\n",
}


@pytest.mark.parametrize("library", OTHER_LIBRARIES)
def test_helpers_around_other_libraries_clipping(library: str) -> None:
    source = OTHER_LIBRARIES[library] + "\n\ndef step(*args):\n    clip(*args)\n"
    found = lint_source(source, "train.py", rules=[UnloggedGradClip])
    assert [d.line for d in found] == [source.count("\n")]
    assert "in clip (train.py:" in found[0].message
