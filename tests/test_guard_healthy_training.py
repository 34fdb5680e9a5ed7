"""Healthy training for 1,000 steps raises no finding at all: the demo ranker and a small
causal transformer that learns a sharp (copy-from-4-back) attention pattern. Every step is
covered: sampled ones fully, the others by the cheap checks (outputs, scores, relevance).
The statistics these runs record are the healthy side of the measurements in
docs/guard.md."""

from __future__ import annotations

import math
from collections.abc import Iterator

import pytest
import torch
from torch import Tensor, nn

from attnlint.demo.data import make_lists
from attnlint.demo.listmle import listmle_loss
from attnlint.demo.model import DeepSetRank
from attnlint.guard import AttentionGuard, GuardConfig
from attnlint.records import StepReport

STEPS = 1000


@pytest.fixture(autouse=True)
def one_thread() -> Iterator[None]:
    # small models: one thread is faster than two, and far faster on a shared machine
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def train_ranker(steps: int = STEPS, every: int = 10, seed: int = 0) -> list[StepReport]:
    torch.manual_seed(seed)
    data = make_lists(seed=seed)
    model = DeepSetRank(input_dim=data.input_dim)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    batches = data.batches(16, torch.Generator().manual_seed(seed))
    reports = []
    with AttentionGuard(model, config=GuardConfig(every=every, on_violation="raise")) as guard:
        for _ in range(steps):
            b = next(batches)
            scores = guard(b.x, b.player_mask, b.team_mask)
            guard.check_scores(scores, b.team_mask)
            guard.check_relevance(b.rel, mask=b.team_mask)
            loss = listmle_loss(scores, b.rel, b.team_mask)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            guard.record_grad_norms()
            norm = torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=5.0)
            assert math.isfinite(float(norm))
            opt.step()
            reports.append(guard.step(loss=loss.detach()))
    return reports


class Block(nn.Module):
    """Pre-LN causal self-attention block, hand-written softmax(q k^T / sqrt(d))."""

    def __init__(self, d: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.qkv, self.proj = nn.Linear(d, 3 * d), nn.Linear(d, d)
        self.mlp = nn.Sequential(nn.Linear(d, 4 * d), nn.GELU(), nn.Linear(4 * d, d))

    def forward(self, x: Tensor) -> Tensor:
        b, n, d = x.shape
        q, k, v = (
            t.view(b, n, self.heads, d // self.heads).transpose(1, 2)
            for t in self.qkv(self.ln1(x)).chunk(3, -1)
        )
        scores = q @ k.transpose(-1, -2) / math.sqrt(d // self.heads)
        causal = torch.ones(n, n, dtype=torch.bool, device=x.device).triu(1)
        attn = torch.softmax(scores.masked_fill(causal, float("-inf")), dim=-1)
        x = x + self.proj((attn @ v).transpose(1, 2).reshape(b, n, d))
        return x + self.mlp(self.ln2(x))


class TinyGPT(nn.Module):
    def __init__(self, vocab: int = 16, d: int = 32, n: int = 16, layers: int = 2) -> None:
        super().__init__()
        self.tok, self.pos = nn.Embedding(vocab, d), nn.Parameter(torch.randn(n, d) * 0.02)
        self.blocks = nn.Sequential(*[Block(d, 2) for _ in range(layers)])
        self.head = nn.Linear(d, vocab)

    def forward(self, ids: Tensor) -> Tensor:
        return self.head(self.blocks(self.tok(ids) + self.pos[: ids.shape[1]]))


def copy_batch(gen: torch.Generator, batch: int = 8, n: int = 16, period: int = 4) -> Tensor:
    """Sequences that repeat with a random period-4 motif: token t = token t-4."""
    motif = torch.randint(0, 16, (batch, period), generator=gen)
    return motif.repeat(1, n // period + 1)[:, : n + 1]


def train_gpt(steps: int = STEPS, every: int = 10, seed: int = 0) -> list[StepReport]:
    torch.manual_seed(seed)
    model = TinyGPT()
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    gen = torch.Generator().manual_seed(seed)
    reports = []
    with AttentionGuard(model, config=GuardConfig(every=every, on_violation="raise")) as guard:
        for _ in range(steps):
            ids = copy_batch(gen)
            logits = guard(ids[:, :-1])
            loss = nn.functional.cross_entropy(logits.flatten(0, 1), ids[:, 1:].flatten())
            opt.zero_grad(set_to_none=True)
            loss.backward()
            guard.record_grad_norms()
            norm = torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0)
            assert math.isfinite(float(norm))
            opt.step()
            reports.append(guard.step(loss=loss.detach()))
    return reports


def _sampled(reports: list[StepReport]) -> list[StepReport]:
    return [r for r in reports if r.sampled]


def test_demo_ranker_trains_1000_steps_without_a_finding() -> None:
    reports = train_ranker()
    assert len(reports) == STEPS and [v for r in reports for v in r.violations] == []
    sampled = _sampled(reports)
    assert len(sampled) == STEPS // 10
    losses = [r.loss for r in sampled]
    assert losses[-1] < losses[0]  # it learned
    st = sampled[-1].layers["attention.attn"]
    assert st.normalized_entropy < 0.999  # and its attention moved off uniform


def test_causal_transformer_trains_1000_steps_without_a_finding() -> None:
    reports = train_gpt()
    assert len(reports) == STEPS and [v for r in reports for v in r.violations] == []
    sampled = _sampled(reports)
    losses = [r.loss for r in sampled]
    assert losses[-1] < 0.5 * losses[0]  # the copy task is learned: attention is sharp
    assert min(r.layers["blocks.1"].normalized_entropy for r in sampled[-10:]) < 0.6


STATS = {
    "normalized_entropy": min,
    "max_row_weight": max,
    "uniform_gap": min,
    "sink_mass": max,
    "sink_lift": max,
    "logit_max": max,
    "input_variance": min,
}


def measure(reports: list[StepReport]) -> dict[str, float]:
    """The extremes a healthy run reached, on the side each check watches."""
    sampled = _sampled(reports)
    out: dict[str, float] = {}
    for stat, pick in STATS.items():
        values = [getattr(st, stat) for r in sampled for st in r.layers.values()]
        values = [v for v in values if v is not None]
        if values:
            out[stat] = pick(values)
    ratios = [st.residual_ratio for r in sampled for st in r.layers.values() if st.residual_ratio]
    if ratios:
        out["residual_ratio_min"], out["residual_ratio_max"] = min(ratios), max(ratios)
    totals = [r.grad_norms["total"] for r in sampled if r.grad_norms.get("total")]
    spikes = [
        t / sorted(totals[max(0, i - 20) : i])[len(totals[max(0, i - 20) : i]) // 2]
        for i, t in enumerate(totals)
        if i >= 5
    ]
    out["grad_total_min"], out["grad_spike_max"] = min(totals), max(spikes)
    scores = [r.batch.score_abs_max for r in sampled if r.batch and r.batch.score_abs_max]
    if scores:
        out["score_abs_max"] = max(scores)
    return out


if __name__ == "__main__":  # python tests/test_guard_healthy_training.py: the figures
    torch.set_num_threads(1)
    for name, run in (("demo ranker", train_ranker), ("causal transformer", train_gpt)):
        figures = measure(run())
        print(name, ", ".join(f"{k} {v:.4g}" for k, v in figures.items()))
