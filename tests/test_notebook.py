"""Notebooks, as real tools write them (nbformat): linted cell by cell, located as
``nb.ipynb:cell N:line:col`` in every output format, IPython syntax skipped without
shifting positions, fixed in place with outputs and metadata untouched."""

from __future__ import annotations

import difflib
import json
import shutil
import subprocess
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from attnlint.cli import main
from attnlint.lint.notebook import load

KERNEL = {"name": "python3", "display_name": "Python 3", "language": "python"}


def _write(path: Path, *cells: nbformat.NotebookNode, **metadata: object) -> Path:
    nb = new_notebook(cells=list(cells))
    nb.metadata["kernelspec"] = KERNEL
    nb.metadata.update(metadata)
    nbformat.write(nb, str(path))
    return path


def _training_notebook(path: Path) -> Path:
    """Cell 1 markdown; cell 2 imports under magics; cell 3 a literal lr after a magic
    and a shell line; cell 4 %%bash; cell 5 the AL402 fill under %%time; cell 6 a help
    line and a magic inside a block, with outputs."""
    return _write(
        path,
        new_markdown_cell("# Training\nNotes, not code: lr=1e-3"),
        new_code_cell("%matplotlib inline\n%load_ext autoreload\nimport torch as T\n"),
        new_code_cell(
            "!pip install -q something\nmodel = T.nn.Linear(4, 1)\n%time x = 1\n"
            "opt = T.optim.AdamW(model.parameters(), lr=3e-4)\n",
            execution_count=2,
        ),
        new_code_cell("%%bash\nopt = T.optim.SGD(p, lr=0.1)\n"),
        new_code_cell(
            "%%time\ndef attend(s, pad):\n"
            "    return T.softmax(s.masked_fill(pad, float('-inf')), -1)"
        ),
        new_code_cell(
            "T.optim.AdamW?\nfor step in range(2):\n    !nvidia-smi\n"
            "    sched = T.optim.SGD(model.parameters(), lr=0.5)  # noqa: AL101\n"
            "    other = T.optim.SGD(model.parameters(), lr=0.5)",
            execution_count=7,
            outputs=[
                new_output("stream", name="stdout", text="GPU 0\n"),
                new_output("execute_result", data={"text/plain": "42"}, execution_count=7),
            ],
        ),
        language_info={"name": "python", "version": "3.11"},
    )


def _json(capsys: pytest.CaptureFixture[str], *args: str) -> list[dict[str, object]]:
    main(["check", "--no-cache", "--output-format", "json", *args])
    return json.loads(capsys.readouterr().out)


def test_findings_are_located_in_their_cell(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    nb = _training_notebook(tmp_path / "train.ipynb")
    found = _json(capsys, str(nb))
    located = [(d["code"], d["cell"], d["line"], d["column"]) for d in found]
    assert located == [
        ("AL101", 3, 4, 44),  # after a shell escape and a line magic: nothing shifted
        ("AL402", 5, 3, 22),  # under %%time: linted; line 1 is the magic
        ("AL101", 6, 5, 48),  # the noqa'd line 4 is silent, line 5 is not
    ]
    assert {d["path"] for d in found} == {str(nb)}
    assert all(d["end_line"] == d["line"] for d in found)


@pytest.mark.parametrize(
    ("fmt", "expected"),
    [
        ("concise", "train.ipynb:cell 3:4:44: AL101"),
        ("full", "train.ipynb:cell 3:4:44: AL101"),
        ("github", "line=4,col=44,endLine=4,endColumn=48,title=AL101::train.ipynb:cell 3:4:44:"),
    ],
)
def test_every_text_format_names_the_cell(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    fmt: str,
    expected: str,
) -> None:
    _training_notebook(tmp_path / "train.ipynb")
    monkeypatch.chdir(tmp_path)
    assert main(["check", "--no-cache", "--output-format", fmt, "train.ipynb"]) == 1
    out = capsys.readouterr().out
    assert expected in out
    if fmt == "full":  # the cell's own line under the location, not the JSON's
        assert "4 | opt = T.optim.AdamW(model.parameters(), lr=3e-4)" in out


def test_sarif_keeps_cell_lines_and_names_the_cell(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _training_notebook(tmp_path / "train.ipynb")
    monkeypatch.chdir(tmp_path)
    main(["check", "--no-cache", "--output-format", "sarif", "train.ipynb"])
    results = json.loads(capsys.readouterr().out)["runs"][0]["results"]
    first = results[0]
    assert first["properties"] == {"cell": 3}
    location = first["locations"][0]
    assert location["message"]["text"] == "train.ipynb:cell 3:4:44"
    assert location["physicalLocation"]["artifactLocation"]["uri"] == "train.ipynb"
    assert location["physicalLocation"]["region"]["startLine"] == 4


def test_folders_include_notebooks_and_checkpoints_are_skipped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "exp").mkdir()
    _training_notebook(tmp_path / "exp" / "a.ipynb")
    (tmp_path / "exp" / ".ipynb_checkpoints").mkdir()
    _training_notebook(tmp_path / "exp" / ".ipynb_checkpoints" / "a-checkpoint.ipynb")
    found = _json(capsys, str(tmp_path))
    assert {Path(str(d["path"])).name for d in found} == {"a.ipynb"}


def test_cells_share_one_namespace_and_a_broken_cell_is_its_own_finding(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    nb = _write(
        tmp_path / "nb.ipynb",
        new_code_cell("from torch import optim as o"),
        new_code_cell("x = (1,"),  # CPython rejects this cell only
        new_code_cell("await something()\nopt = o.Adam(p, lr=1e-3)"),  # IPython's await
        new_code_cell("opt = o.Adam(p, lr=1e-3)"),
    )
    found = _json(capsys, str(nb))
    assert [(d["code"], d["cell"], d["line"]) for d in found] == [
        ("AL000", 2, 1),
        ("AL101", 4, 1),
    ]


def test_not_a_notebook_is_a_finding_not_a_crash(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "broken.ipynb").write_text('{"cells": [', encoding="utf-8")
    (tmp_path / "other.ipynb").write_text('{"worksheets": []}', encoding="utf-8")
    assert main(["check", "--no-cache", str(tmp_path)]) == 1
    out, err = capsys.readouterr()
    assert "broken.ipynb:1:1: AL000 not a notebook (invalid JSON" in out
    assert "other.ipynb:1:1: AL000 not a notebook" in out
    assert "Traceback" not in out + err


def test_other_kernels_are_not_linted(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    nb = new_notebook(cells=[new_code_cell("opt = torch.optim.Adam(p, lr=1e-3)")])
    nb.metadata["kernelspec"] = {"name": "ir", "display_name": "R", "language": "R"}
    nbformat.write(nb, str(tmp_path / "r.ipynb"))
    assert _json(capsys, str(tmp_path / "r.ipynb")) == []


def test_fix_writes_a_valid_notebook_touching_only_the_fixed_source(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _training_notebook(tmp_path / "train.ipynb")
    before_text = path.read_text(encoding="utf-8")
    before = nbformat.read(str(path), as_version=4)
    inode = path.stat().st_ino
    assert main(["check", "--no-cache", "--fix", str(path)]) == 1  # AL101 has no fix
    assert "Fixed 1 error." in capsys.readouterr().out
    after = nbformat.read(str(path), as_version=4)
    nbformat.validate(after)
    assert path.stat().st_ino == inode
    assert after.metadata == before.metadata
    assert [c.get("outputs") for c in after.cells] == [c.get("outputs") for c in before.cells]
    changed = [i for i, (a, b) in enumerate(zip(before.cells, after.cells, strict=True)) if a != b]
    assert changed == [4]
    assert after.cells[4].source == before.cells[4].source.replace(
        "float('-inf')", "T.finfo(s.dtype).min"
    )
    assert after.cells[4].source.startswith("%%time\n")  # the magic is back
    # nbformat's own layout is kept: the file differs in that one source line only
    diff = [
        line
        for line in difflib.ndiff(
            before_text.splitlines(), path.read_text(encoding="utf-8").splitlines()
        )
        if line[:1] in "+-"
    ]
    assert len(diff) == 2 and all("masked_fill" in line for line in diff)
    assert [d["code"] for d in _json(capsys, str(path))] == ["AL101", "AL101"]


def test_fix_restores_magics_and_string_sources(tmp_path: Path) -> None:
    """A cell stored as one string (not nbformat's list) stays a string; magics around a
    fixed line, and in the block the fix edits, are put back unchanged."""
    data = {
        "cells": [
            {
                "cell_type": "code",
                "execution_count": None,
                "id": "a1",
                "metadata": {"tags": ["keep"]},
                "outputs": [],
                "source": "import torch\n!ls\ndef f(s, m):\n    %time y = 1\n"
                "    return torch.softmax(s.masked_fill(m, float('-inf')), -1)\nf?",
            }
        ],
        "metadata": {"kernelspec": KERNEL},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    path = tmp_path / "nb.ipynb"
    path.write_text(json.dumps(data, indent=2), encoding="utf-8")
    assert main(["check", "--no-cache", "--fix", str(path)]) == 0
    after = json.loads(path.read_text(encoding="utf-8"))
    assert after["cells"][0]["source"] == data["cells"][0]["source"].replace(  # type: ignore[index]
        "float('-inf')", "torch.finfo(s.dtype).min"
    )
    assert after["cells"][0]["metadata"] == {"tags": ["keep"]}
    assert path.read_text(encoding="utf-8").startswith('{\n  "cells": [')  # indent 2 kept
    nbformat.validate(nbformat.reads(path.read_text(encoding="utf-8"), as_version=4))


@pytest.mark.skipif(shutil.which("patch") is None, reason="needs the patch program")
def test_diff_of_a_notebook_applies_with_patch(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _training_notebook(tmp_path / "train.ipynb")
    shutil.copy(tmp_path / "train.ipynb", tmp_path / "expected.ipynb")
    monkeypatch.chdir(tmp_path)
    main(["check", "--no-cache", "--diff", "train.ipynb"])
    diff = capsys.readouterr().out
    main(["check", "--no-cache", "--fix", "expected.ipynb"])
    capsys.readouterr()
    subprocess.run(
        ["patch", "-p0", "--batch", "--fuzz=0"], input=diff.encode(), check=True, cwd=tmp_path
    )
    assert (tmp_path / "train.ipynb").read_bytes() == (tmp_path / "expected.ipynb").read_bytes()


def test_cache_and_process_pool_give_the_same_cells(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for i in range(20):
        _training_notebook(tmp_path / f"nb{i:02}.ipynb")
    cache = tmp_path / ".cache"

    def located(*args: str) -> list[tuple[object, ...]]:
        main(["check", "--output-format", "json", *args, str(tmp_path)])
        rows = json.loads(capsys.readouterr().out)
        return [(Path(str(d["path"])).name, d["cell"], d["line"], d["code"]) for d in rows]

    serial = located("--no-cache", "-j", "1")
    assert len(serial) == 60
    assert located("--cache-dir", str(cache), "-j", "4") == serial  # pool, cold cache
    assert any(cache.iterdir())
    assert located("--cache-dir", str(cache), "-j", "4") == serial  # warm cache


def test_load_masks_without_moving_lines() -> None:
    nb = new_notebook(cells=[new_code_cell("%%time\nx = 1\n!ls \\\n  -la\nx?\nz = 2")])
    notebook = load(nbformat.writes(nb).encode())
    cell = notebook.cells[0]
    assert cell.error is None
    masked = cell.masked.splitlines()
    assert len(masked) == 6
    assert masked[1] == "x = 1" and masked[5] == "z = 2"
    assert sorted(cell.magics) == [0, 2, 3, 4]  # a shell escape continues on line 3
    assert all(masked[i].startswith(("pass", "  pass")) for i in (0, 2, 3, 4))


def test_pre_commit_hook_is_offered_notebooks() -> None:
    """pre-commit filters files by identify's tags: .ipynb is ``jupyter``, not ``python``."""
    yaml = pytest.importorskip("yaml")
    identify = pytest.importorskip("identify.identify")
    hooks = yaml.safe_load((Path(__file__).parent.parent / ".pre-commit-hooks.yaml").read_text())
    hook = next(h for h in hooks if h["id"] == "attnlint")
    assert "types" not in hook  # types is an AND of tags: nothing is both python and jupyter
    for name in ("train.py", "train.ipynb"):
        assert set(hook["types_or"]) & identify.tags_from_filename(name)


def test_a_cell_that_only_the_joined_module_rejects_sits_out(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """IPython compiles cells one by one: a ``__future__`` import in a later cell is
    fine there, and a cell libcst cannot parse is AL001 in that cell only."""
    nb = _write(
        tmp_path / "nb.ipynb",
        new_code_cell("import torch"),
        new_code_cell("from __future__ import annotations\nopt = torch.optim.Adam(p, lr=1e-3)"),
        new_code_cell("(x): int = 1"),  # valid Python that libcst does not parse
        new_code_cell("opt = torch.optim.Adam(p, lr=1e-3)"),
    )
    found = _json(capsys, str(nb))
    assert [(d["code"], d["cell"], d["line"]) for d in found] == [
        ("AL001", 3, 1),
        ("AL101", 4, 1),
    ]


def test_fix_still_applies_beside_a_cell_that_sits_out(tmp_path: Path) -> None:
    fill = "def f(s, m):\n    return s.masked_fill(m, float('-inf')).softmax(-1)"
    nb = _write(
        tmp_path / "nb.ipynb",
        new_code_cell("import torch"),
        new_code_cell("from __future__ import annotations\n" + fill),
        new_code_cell(fill),
    )
    assert main(["check", "--no-cache", "--fix", str(nb)]) == 0
    cells = nbformat.read(str(nb), as_version=4).cells
    assert cells[1].source == "from __future__ import annotations\n" + fill  # not linted
    assert cells[2].source == fill.replace("float('-inf')", "torch.finfo(s.dtype).min")


def test_magic_lookalikes_inside_expressions_and_strings_stay_code() -> None:
    source = "%matplotlib inline\ny = (7\n     % 3)\ns = '''\n!not a shell line\n'''\n!ls"
    notebook = load(nbformat.writes(new_notebook(cells=[new_code_cell(source)])).encode())
    cell = notebook.cells[0]
    assert cell.error is None
    assert sorted(cell.magics) == [0, 6]
    assert cell.masked.splitlines()[1:6] == source.splitlines()[1:6]


def test_fixed_training_notebook_still_runs(tmp_path: Path) -> None:
    """An AMP loop split over cells, as notebooks have it: the fix goes into the loop's
    cell and the notebook's code, run cell by cell, clips unscaled gradients."""
    pytest.importorskip("torch")
    nb = _write(
        tmp_path / "amp.ipynb",
        new_markdown_cell("AMP on the CPU"),
        new_code_cell(
            "%load_ext autoreload\nimport torch\nfrom torch.nn.utils import clip_grad_norm_"
        ),
        new_code_cell(
            "torch.manual_seed(0)\nmodel = torch.nn.Linear(4, 1)\n"
            "opt = torch.optim.SGD(model.parameters(), lr=0.5)\n"
            'scaler = torch.amp.GradScaler("cpu")\nnorms = []'
        ),
        new_code_cell(
            "!echo training\nfor _ in range(3):\n    opt.zero_grad()\n"
            "    loss = model(torch.ones(2, 4)).pow(2).mean()\n"
            "    scaler.scale(loss).backward(); norms.append(float(clip_grad_norm_("
            "model.parameters(), 0.5)))\n    scaler.step(opt)\n    scaler.update()",
            outputs=[new_output("stream", name="stdout", text="training\n")],
        ),
    )
    assert main(["check", "--no-cache", "--select", "AL104", "--fix", str(nb)]) == 0
    cells = nbformat.read(str(nb), as_version=4).cells
    assert "backward(); scaler.unscale_(opt); norms.append(" in cells[3].source
    assert cells[3].outputs[0]["text"] == "training\n"
    namespace: dict[str, object] = {}
    for cell in cells[1:]:
        code = "\n".join(
            line for line in cell.source.splitlines() if not line.startswith(("%", "!"))
        )
        exec(compile(code, "cell", "exec"), namespace)
    norms = namespace["norms"]
    assert isinstance(norms, list) and len(norms) == 3 and max(norms) < 100  # not 2**16 x
