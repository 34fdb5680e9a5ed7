import torch
import torch.nn as nn
import torch.nn.functional as F


class GATLayer(nn.Module):
    def __init__(self, in_features, out_features, alpha=0.2):
        super().__init__()
        self.W = nn.Linear(in_features, out_features, bias=False)
        self.a = nn.Parameter(torch.empty(2 * out_features, 1))
        self.leaky = nn.LeakyReLU(alpha)

    def forward(self, h, adj):
        Wh = self.W(h)
        n = Wh.size(0)
        pairs = torch.cat([Wh.repeat_interleave(n, 0), Wh.repeat(n, 1)], 1).view(n, n, -1)
        e = self.leaky(pairs @ self.a).squeeze(-1)
        e = e.masked_fill(adj == 0, float("-inf"))
        attention = torch.softmax(e, dim=1)
        return attention @ Wh


class SafeGATLayer(GATLayer):
    def forward(self, h, adj):
        Wh = self.W(h)
        n = Wh.size(0)
        pairs = torch.cat([Wh.repeat_interleave(n, 0), Wh.repeat(n, 1)], 1).view(n, n, -1)
        e = self.leaky(pairs @ self.a).squeeze(-1)
        e = torch.where(adj > 0, e, torch.full_like(e, -9e15))
        attention = F.softmax(e, dim=1)
        return attention @ Wh


class GraphTransformerLayer(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.q = nn.Linear(dim, dim)
        self.k = nn.Linear(dim, dim)
        self.v = nn.Linear(dim, dim)

    def forward(self, x):
        q, k, v = self.q(x), self.k(x), self.v(x)
        scores = torch.bmm(q, k.permute(0, 2, 1))
        return torch.bmm(F.softmax(scores, dim=-1), v)


class GNN(nn.Module):
    def __init__(self, n_features, hidden=64, n_classes=7):
        super().__init__()
        self.g1 = GATLayer(n_features, hidden)
        self.g2 = SafeGATLayer(hidden, hidden)
        self.t = GraphTransformerLayer(hidden)
        self.out = nn.Linear(hidden, n_classes)

    def forward(self, x, adj):
        h = F.elu(self.g1(x, adj))
        h = F.elu(self.g2(h, adj))
        return self.out(self.t(h.unsqueeze(0)).squeeze(0))
