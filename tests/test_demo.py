"""The reference DeepSetRank, its ListMLE, the synthetic data, and ``attnlint demo``."""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import pytest
import torch

from attnlint.demo.data import make_lists
from attnlint.demo.listmle import listmle_loss, listmle_per_list
from attnlint.demo.model import DeepSetRank


def test_listmle_constant_scores_is_log_factorial() -> None:
    # The seed's flat loss 27.8993 is log(15!): constant scores, whatever the labels.
    loss = listmle_per_list(torch.zeros(2, 15), torch.randn(2, 15))
    assert loss.tolist() == pytest.approx([math.lgamma(16)] * 2, abs=1e-4)
    assert math.lgamma(16) == pytest.approx(27.8993, abs=1e-4)


def test_listmle_shift_invariant_masked_and_single_item() -> None:
    g = torch.Generator().manual_seed(0)
    scores, rel = torch.randn(3, 6, generator=g), torch.rand(3, 6, generator=g)
    mask = torch.tensor([[True] * 6, [True] * 4 + [False] * 2, [True] + [False] * 5])
    base = listmle_per_list(scores, rel, mask)
    shifted = listmle_per_list(scores + 1000.0, rel, mask)
    assert shifted.tolist() == pytest.approx(base.tolist(), rel=1e-4)  # float32 at 1e3
    # Padding changes nothing: same as the list without its padded items.
    alone = listmle_per_list(scores[1:2, :4], rel[1:2, :4])
    assert base[1].item() == pytest.approx(alone.item())
    padded = scores.clone()
    padded[1, 4:] = 1e6  # whatever the model wrote there
    assert listmle_per_list(padded, rel, mask)[1].item() == pytest.approx(base[1].item())
    assert base[2].item() == 0.0  # a list of one item carries no ranking information
    # The correct order has a lower loss than the reversed one.
    good = listmle_per_list(rel[:1] * 10, rel[:1])
    bad = listmle_per_list(-rel[:1] * 10, rel[:1])
    assert good.item() < bad.item()


def test_listmle_passes_the_guard_selftest() -> None:
    import attnlint.guard.selftest as selftest

    result = selftest.selftest_listwise_loss(listmle_loss)
    assert result.ok, result.failures


def test_data_masks_and_relevance() -> None:
    data = make_lists(n_lists=32, teams=(4, 6), players=(3, 5), dim=8, seed=1)
    assert data.x.shape == (32, 6, 5, 8) and data.input_dim == 8
    n_teams = data.team_mask.sum(-1)
    assert int(n_teams.min()) >= 4 and int(n_teams.max()) <= 6
    valid_players = data.player_mask.sum(-1)[data.team_mask]
    assert int(valid_players.min()) >= 3
    assert not data.player_mask[~data.team_mask].any()
    assert (data.x[~data.player_mask] == 0).all()
    # Relevance varies within every list (not degenerate) and is 0 on padding.
    assert all(float(r[m].std()) > 0 for r, m in zip(data.rel, data.team_mask, strict=True))
    assert (data.rel[~data.team_mask] == 0).all()
    # It depends on the inputs: other inputs, other relevance.
    other = make_lists(n_lists=32, teams=(4, 6), players=(3, 5), dim=8, seed=2)
    assert not torch.allclose(data.rel, other.rel)


def test_model_scores_and_fallback_branch() -> None:
    torch.manual_seed(0)
    data = make_lists(n_lists=4, seed=0)
    model = DeepSetRank(input_dim=data.input_dim)
    scores = model(data.x, data.player_mask, data.team_mask)
    assert scores.shape == data.team_mask.shape
    assert (scores[~data.team_mask] == 0).all()
    assert torch.isfinite(scores).all() and model.attention.fallbacks == 0
    # Non-finite attention on valid players takes the seed's fallback (masked mean).
    with torch.no_grad():
        model.attention.attn.in_proj_weight[:32].fill_(float("nan"))  # the query projection
    scores = model(data.x, data.player_mask, data.team_mask)
    assert model.attention.fallbacks == int(data.team_mask.sum())
    assert torch.isfinite(scores).all()


def _cli(*argv: str) -> int:
    from attnlint.report.commands import register

    parser = argparse.ArgumentParser()
    register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(list(argv))
    return int(args.handler(args))


def test_demo_end_to_end(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from attnlint.report.runlog import read_run_log

    assert _cli("demo", "--out", str(tmp_path), "--steps", "12", "--no-plot") == 0
    healthy = read_run_log(tmp_path / "healthy.jsonl")
    collapse = read_run_log(tmp_path / "collapse.jsonl")
    assert len(healthy.steps) == 12 and healthy.violations == []
    found = {(v.check, v.site) for v in collapse.violations}
    assert any(check == "attention_entropy" and "attention" in site for check, site in found)
    out = capsys.readouterr().out
    assert "healthy: no violations in 12 sampled steps" in out
    assert "collapse: " in out and "attention_entropy" in out


def test_demo_collapse_only_writes_plot(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    assert _cli("demo", "--collapse", "--out", str(tmp_path), "--steps", "12") == 0
    assert (tmp_path / "collapse.png").read_bytes()[:4] == b"\x89PNG"
    assert not (tmp_path / "healthy.jsonl").exists()


def test_the_collapse_guide_figures_hold_on_the_default_seed(tmp_path: Path) -> None:
    """docs/attention-collapse.md: healthy entropy above 0.35, collapse reported by step 5,
    QK logit std from about 0.02 to above 10^3, encoder and attention gradients gone
    (bench/demo_seeds.py measures the same over seeds 0-7)."""
    from attnlint.demo.train import VARIANTS, train
    from attnlint.report.runlog import read_run_log

    for name in ("healthy", "collapse"):
        train(VARIANTS[name], tmp_path / f"{name}.jsonl", steps=60, seed=0)
    healthy = read_run_log(tmp_path / "healthy.jsonl")
    collapse = read_run_log(tmp_path / "collapse.jsonl")
    (site,) = healthy.sites
    assert healthy.violations == []
    assert min(s.layers[site].normalized_entropy for s in healthy.steps) > 0.35
    assert min(v.step for v in collapse.violations if v.check == "attention_entropy") <= 5
    logit = [s.layers[site].logit_std for s in collapse.steps]
    assert logit[0] < 0.05 and logit[-1] > 1e3
    last = collapse.steps[-1]
    assert last.layers[site].effective_rank == pytest.approx(1.0, abs=1e-3)
    assert last.grad_norms["encoder"] < 1e-6 and last.grad_norms["attention"] < 1e-6


def test_example_training_script_runs_and_lints_clean(tmp_path: Path) -> None:
    """README: examples/train_deepsetrank.py is a complete runnable loop, and its docstring:
    `attnlint check examples/` is clean."""
    import subprocess
    import sys

    from attnlint.report.runlog import read_run_log

    repo = Path(__file__).resolve().parent.parent
    script = repo / "examples" / "train_deepsetrank.py"
    done = subprocess.run(
        [sys.executable, str(script), "--steps", "4", "--log", str(tmp_path / "run.jsonl")],
        capture_output=True, text=True, cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert len(read_run_log(tmp_path / "run.jsonl").steps) == 4
    checked = subprocess.run(
        [sys.executable, "-m", "attnlint.cli", "check", "--no-cache", str(repo / "examples")],
        capture_output=True, text=True, cwd=repo,
    )  # fmt: skip
    assert checked.returncode == 0, checked.stdout
