import torch
import torch.nn as nn
import torch.nn.functional as F


class MAB(nn.Module):
    def __init__(self, dim, n_heads):
        super().__init__()
        self.n_heads = n_heads
        self.fc_q = nn.Linear(dim, dim)
        self.fc_k = nn.Linear(dim, dim)
        self.fc_v = nn.Linear(dim, dim)
        self.fc_o = nn.Linear(dim, dim)

    def forward(self, Q, K, mask=None):
        Q, K, V = self.fc_q(Q), self.fc_k(K), self.fc_v(K)
        d = Q.size(-1) // self.n_heads
        Q_ = torch.cat(Q.split(d, 2), 0)
        K_ = torch.cat(K.split(d, 2), 0)
        V_ = torch.cat(V.split(d, 2), 0)
        A = Q_.bmm(K_.transpose(1, 2)) / d**0.5
        if mask is not None:
            A = A.masked_fill(~mask.repeat(self.n_heads, 1).unsqueeze(1), float("-inf"))
        A = torch.softmax(A, 2)
        A = torch.nan_to_num(A, nan=0.0)
        O = torch.cat((Q_ + A.bmm(V_)).split(Q.size(0), 0), 2)
        return O + F.relu(self.fc_o(O))


class DeepSetRanker(nn.Module):
    def __init__(self, stat_dim, hidden_dim=128, n_heads=4, n_blocks=2):
        super().__init__()
        self.phi = nn.Sequential(
            nn.Linear(stat_dim, hidden_dim), nn.ReLU(), nn.Linear(hidden_dim, hidden_dim)
        )
        self.blocks = nn.ModuleList([MAB(hidden_dim, n_heads) for _ in range(n_blocks)])
        self.rho = nn.Linear(2 * hidden_dim, 1)

    def forward(self, player_stats, mask):
        h = self.phi(player_stats)
        for blk in self.blocks:
            h = blk(h, h, mask)
        pooled = (h * mask.unsqueeze(-1)).sum(1) / mask.sum(1, keepdim=True).clamp(min=1)
        ctx = pooled.unsqueeze(1).expand_as(h)
        return self.rho(torch.cat([h, ctx], -1)).squeeze(-1)
