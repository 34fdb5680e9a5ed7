import torch
import torch.nn as nn
from masking import mask_instances


class GatedAttentionMIL(nn.Module):
    """Ilse et al. gated attention pooling over whole-slide tiles."""

    def __init__(self, in_features, hidden=256, attn_dim=128, n_classes=2):
        super().__init__()
        self.embed = nn.Sequential(nn.Linear(in_features, hidden), nn.ReLU(), nn.Dropout(0.25))
        self.att_v = nn.Linear(hidden, attn_dim)
        self.att_u = nn.Linear(hidden, attn_dim)
        self.att_w = nn.Linear(attn_dim, 1)
        self.cls = nn.Linear(hidden, n_classes)

    def forward(self, tiles, valid):
        h = self.embed(tiles)  # b n hidden
        a = self.att_w(torch.tanh(self.att_v(h)) * torch.sigmoid(self.att_u(h))).squeeze(-1)
        a = mask_instances(a, valid)
        a = torch.softmax(a, dim=1)
        bag = torch.einsum("bn,bnd->bd", a, h)
        return self.cls(bag), a


class InstanceAttentionMIL(nn.Module):
    """Second head used for the tile-level heatmaps; checks its bags first."""

    def __init__(self, in_features, hidden=256, n_classes=2):
        super().__init__()
        self.embed = nn.Linear(in_features, hidden)
        self.score = nn.Linear(hidden, 1)
        self.cls = nn.Linear(hidden, n_classes)

    def forward(self, tiles, valid):
        assert valid.any(dim=1).all(), "empty bag in batch"
        h = torch.relu(self.embed(tiles))
        a = self.score(h).squeeze(-1).masked_fill(~valid, float("-inf"))
        a = a.softmax(dim=1)
        return self.cls((a.unsqueeze(-1) * h).sum(1)), a
