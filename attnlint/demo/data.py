"""Synthetic ranking lists: lists of teams, teams are sets of players, with padding masks.

The seed's shape: ``x`` [lists, teams, players, features], ``player_mask`` [lists, teams,
players], ``team_mask`` [lists, teams], relevance [lists, teams]. A team's relevance is a
weighted mean of its players' quality, the weights favouring players with a high first
feature (the seed's "minutes"), plus noise: the signal depends on the inputs, and pooling
that attends to the right players ranks better than a plain mean.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import torch
from torch import Tensor


@dataclass(frozen=True)
class RankingData:
    x: Tensor
    player_mask: Tensor
    team_mask: Tensor
    rel: Tensor

    @property
    def input_dim(self) -> int:
        return int(self.x.shape[-1])

    def __len__(self) -> int:
        return int(self.x.shape[0])

    def batches(self, batch_size: int, generator: torch.Generator) -> Iterator[RankingData]:
        """Shuffled mini-batches, forever."""
        while True:
            perm = torch.randperm(len(self), generator=generator)
            for start in range(0, len(self) - batch_size + 1, batch_size):
                idx = perm[start : start + batch_size]
                yield RankingData(
                    self.x[idx], self.player_mask[idx], self.team_mask[idx], self.rel[idx]
                )


def make_lists(
    n_lists: int = 256,
    teams: tuple[int, int] = (4, 10),
    players: tuple[int, int] = (3, 8),
    dim: int = 8,
    noise: float = 0.1,
    seed: int = 0,
) -> RankingData:
    g = torch.Generator().manual_seed(seed)
    t_max, p_max = teams[1], players[1]
    x = torch.randn(n_lists, t_max, p_max, dim, generator=g)
    n_teams = torch.randint(teams[0], teams[1] + 1, (n_lists,), generator=g)
    n_players = torch.randint(players[0], players[1] + 1, (n_lists, t_max), generator=g)
    team_mask = torch.arange(t_max) < n_teams[:, None]
    player_mask = (torch.arange(p_max) < n_players[..., None]) & team_mask[..., None]
    x = x * player_mask[..., None]  # padding is zero, as a collate function would leave it

    quality = x @ (torch.randn(dim, generator=g) / dim**0.5)
    weight = (2.0 * x[..., 0]).masked_fill(~player_mask, float("-inf"))
    weight = torch.softmax(weight, dim=-1).nan_to_num(0.0)  # empty (padding) teams: 0
    rel = (weight * quality).sum(-1) + noise * torch.randn(n_lists, t_max, generator=g)
    rel = rel.masked_fill(~team_mask, 0.0)
    return RankingData(x=x, player_mask=player_mask, team_mask=team_mask, rel=rel)
