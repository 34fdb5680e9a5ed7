"""From a runtime violation to the static finding that explains it (attnlint report)."""

from __future__ import annotations

import importlib.util
import json
import sys
import textwrap
from pathlib import Path

import pytest
import torch

from attnlint.cli import main
from attnlint.guard import AttentionGuard, GuardConfig
from attnlint.report.explain import explain
from attnlint.report.runlog import read_run_log

MODEL = """
import torch
from torch import nn


class Attend(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.q = nn.Linear(dim, dim)
        self.k = nn.Linear(dim, dim)

    def forward(self, x):
        q, k = self.q(x), self.k(x)
        weights = torch.softmax(q @ k.transpose(-2, -1), dim=-1)
        return weights @ x
"""

SCALED = MODEL.replace("q @ k.transpose(-2, -1)", "q @ k.transpose(-2, -1) / q.shape[-1] ** 0.5")

SCRIPT = """
import torch

def build(model):
    return torch.optim.Adam(model.parameters(), lr=0.1)
"""


def _load(path: Path, monkeypatch: pytest.MonkeyPatch) -> type:
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, path.stem, module)  # imported as users import it
    spec.loader.exec_module(module)
    return module.Attend


def _collapsed_run(tmp_path: Path, source: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    model_file = tmp_path / "attend_model.py"
    model_file.write_text(textwrap.dedent(source))
    script = tmp_path / "train.py"
    script.write_text(textwrap.dedent(SCRIPT))
    monkeypatch.setattr(sys, "argv", [str(script)])
    torch.manual_seed(0)
    model = _load(model_file, monkeypatch)(8)
    with torch.no_grad():
        model.q.weight.mul_(40.0)
        model.k.weight.mul_(40.0)
    log = tmp_path / "run.jsonl"
    with AttentionGuard(model, GuardConfig(on_violation="log"), log_path=str(log)) as guard:
        for _ in range(2):
            guard(torch.randn(4, 6, 8))
            guard.step()
    return log


def test_header_names_each_site_class_file_line_and_the_script(tmp_path, monkeypatch) -> None:
    log = read_run_log(_collapsed_run(tmp_path, MODEL, monkeypatch))
    entry = log.header["site_sources"]["root"]
    assert entry["class"].endswith(".Attend") and entry["file"].endswith("attend_model.py")
    assert entry["line"] == 6  # the class statement
    assert log.header["script"].endswith("train.py")
    assert log.header["caller"] == str(Path(__file__).resolve())  # the loop that stepped it


def test_collapse_is_explained_by_unscaled_attention_and_the_literal_lr(
    tmp_path, monkeypatch, capsys
) -> None:
    log_path = _collapsed_run(tmp_path, MODEL, monkeypatch)
    (entry,) = [e for e in explain(read_run_log(log_path)) if e.check == "attention_entropy"]
    codes = [(d["code"], Path(d["path"]).name, d["line"]) for d in entry.causes]
    assert ("AL401", "attend_model.py", 14) in codes
    assert ("AL101", "train.py", 5) in codes
    assert entry.count == 2 and entry.site == "root"
    assert main(["report", str(log_path)]) == 0
    out = capsys.readouterr().out
    assert "attend_model.py:14" in out and "AL401" in out
    assert main(["report", str(log_path), "--output-format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    (j,) = [v for v in data["violations"] if v["check"] == "attention_entropy"]
    assert {c["code"] for c in j["causes"]} >= {"AL401", "AL101"}


def test_says_so_when_the_code_shows_no_cause(tmp_path, monkeypatch) -> None:
    log_path = _collapsed_run(tmp_path, SCALED, monkeypatch)
    (tmp_path / "train.py").write_text("import torch\n")  # no literal learning rate now
    entries = explain(read_run_log(log_path))
    (entry,) = [e for e in entries if e.check == "attention_entropy"]
    assert entry.causes == []
    from attnlint.report.explain import render_text

    text = "\n".join(render_text(entries))
    assert "no static cause found" in text and "attend_model.py" in text


MASKED = """
import torch
from torch import nn


class Masked(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.q = nn.Linear(dim, dim)

    def forward(self, x, keep):
        scores = self.q(x) @ x.transpose(-2, -1) / x.shape[-1] ** 0.5
        scores = scores.masked_fill(~keep[:, None, :], float("-inf"))
        return torch.softmax(scores, dim=-1) @ x
"""


def test_nan_row_is_explained_by_the_masked_softmax(tmp_path, monkeypatch) -> None:
    path = tmp_path / "masked_model.py"
    path.write_text(textwrap.dedent(MASKED))
    monkeypatch.setattr(sys, "argv", ["-c"])  # no script file: only the model's source
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, path.stem, module)
    spec.loader.exec_module(module)
    keep = torch.ones(2, 4, dtype=torch.bool)
    keep[1] = False  # an all-padding item: softmax(-inf) is NaN
    log = tmp_path / "run.jsonl"
    with AttentionGuard(module.Masked(4), GuardConfig(on_violation="log"), log_path=str(log)) as g:
        g(torch.randn(2, 4, 4), keep)
        g.step()
    entries = explain(read_run_log(log))
    (entry,) = [e for e in entries if e.check == "attention_mass"]
    assert [(d["code"], Path(d["path"]).name) for d in entry.causes] == [
        ("AL402", "masked_model.py")
    ]
