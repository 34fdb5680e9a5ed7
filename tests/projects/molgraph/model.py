import torch
import torch.nn as nn
from layers import EdgeBias, GraphAttentionLayer


class MolTransformer(nn.Module):
    def __init__(self, n_atom_features, dim=128, heads=8, depth=6, n_bond_types=5):
        super().__init__()
        self.atom = nn.Linear(n_atom_features, dim)
        self.edge_bias = EdgeBias(n_bond_types, heads)
        self.layers = nn.ModuleList(GraphAttentionLayer(dim, heads) for _ in range(depth))
        self.readout_q = nn.Parameter(torch.zeros(1, dim))
        self.head = nn.Linear(dim, 1)

    def readout(self, h, node_keep):
        w = (h @ self.readout_q.T).squeeze(-1)
        w = w.masked_fill(~node_keep, torch.finfo(w.dtype).min)
        w = w.softmax(dim=-1)
        return (w.unsqueeze(-1) * h).sum(1)

    def forward(self, atoms, bonds, spd, node_keep):
        h = self.atom(atoms)
        bias = self.edge_bias(bonds, spd)
        for layer in self.layers:
            h = layer(h, bias, node_keep)
        return self.head(self.readout(h, node_keep)).squeeze(-1)
