"""The reference DeepSetRank of the seed investigation: encoder -> SetAttention -> scorer.

Each team is a set of players. The encoder maps every player to ``z``; SetAttention pools
a team's players into ``Z`` with ``nn.MultiheadAttention`` whose query is the masked mean
of the team; the scorer maps ``Z`` to one score per team, ranked within a list by ListMLE.

Two details are kept from the seed on purpose, because they are what makes real models
hard to instrument: the pooling branches on a tensor value (the fallback when attention on
valid players is ~0 or non-finite), and teams are selected with a boolean mask. Neither
traces with ``torch.fx``; the guard must observe the attention through its inputs.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

COLLAPSE_THRESHOLD = 1e-6


def masked_mean(z: Tensor, mask: Tensor) -> Tensor:
    """Mean over dim 1 of ``z`` [N, P, H] counting only ``mask`` [N, P] positions."""
    weights = mask.to(z.dtype).unsqueeze(-1)
    return (z * weights).sum(1) / weights.sum(1).clamp_min(1.0)


class SetAttention(nn.Module):
    """Pool a set with one attention query (the set's masked mean).

    ``temperature`` divides the attention logits (it scales the query); below 1 it
    sharpens attention, and far below 1 it drives every row one-hot: the demo's collapse.
    """

    def __init__(self, dim: int, heads: int = 2, temperature: float = 1.0) -> None:
        super().__init__()
        self.attn = nn.MultiheadAttention(dim, heads, batch_first=True)
        self.temperature = temperature
        self.fallbacks = 0  # how often the fallback branch ran (the seed logged this too)

    def forward(self, z: Tensor, mask: Tensor) -> Tensor:
        query = (masked_mean(z, mask) / self.temperature).unsqueeze(1)
        pooled, weights = self.attn(query, z, z, key_padding_mask=~mask, need_weights=True)
        pooled = pooled.squeeze(1)
        mass = (weights.squeeze(1) * mask).sum(-1)
        bad = ~torch.isfinite(mass) | (mass < COLLAPSE_THRESHOLD)
        if bad.any():  # data-dependent branch, as in the seed
            self.fallbacks += int(bad.sum())
            pooled = torch.where(bad.unsqueeze(-1), masked_mean(z, mask), pooled)
        return pooled


class DeepSetRank(nn.Module):
    def __init__(
        self, input_dim: int, hidden: int = 32, heads: int = 2, temperature: float = 1.0
    ) -> None:
        super().__init__()
        self.input_dim = input_dim
        self.encoder = nn.Sequential(
            nn.Linear(input_dim, hidden), nn.ReLU(), nn.Linear(hidden, hidden)
        )
        self.attention = SetAttention(hidden, heads, temperature)
        self.scorer = nn.Sequential(nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, 1))

    def forward(self, x: Tensor, player_mask: Tensor, team_mask: Tensor) -> Tensor:
        """Scores [lists, teams]; padded teams score 0 (the loss masks them)."""
        z = self.encoder(x[team_mask])  # [valid teams, players, hidden]
        pooled = self.attention(z, player_mask[team_mask])
        team_scores = self.scorer(pooled).squeeze(-1)
        return x.new_zeros(team_mask.shape).masked_scatter(team_mask, team_scores)
