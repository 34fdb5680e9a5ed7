import torch
import torch.nn.functional as F
from torch import nn


def frame_affinity(q, k):
    return torch.bmm(q, k.transpose(1, 2))


class ConvFrontend(nn.Module):
    def __init__(self, n_mels, d):
        super().__init__()
        self.conv = nn.Sequential(
            nn.Conv1d(n_mels, d, 5, padding=2), nn.GELU(), nn.Conv1d(d, d, 5, stride=2, padding=2)
        )

    def forward(self, mel):
        return self.conv(mel).transpose(1, 2)


class ContextBlock(nn.Module):
    def __init__(self, d, heads):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(d, 3 * d)
        self.norm = nn.LayerNorm(d)

    def forward(self, x, frame_mask):
        b, t, d = x.shape
        q, k, v = self.qkv(self.norm(x)).view(b, t, 3, self.heads, -1).permute(2, 0, 3, 1, 4)
        o = F.scaled_dot_product_attention(q, k, v, attn_mask=frame_mask[:, None, None, :])
        return x + o.transpose(1, 2).reshape(b, t, d)


class EmotionPool(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.q = nn.Linear(d, d)
        self.k = nn.Linear(d, d)

    def forward(self, x, frame_mask):
        a = frame_affinity(self.q(x), self.k(x))
        a = a.masked_fill(~frame_mask[:, None, :], torch.finfo(a.dtype).min)
        a = F.softmax(a, dim=-1)
        ctx = a @ x
        w = frame_mask.float().unsqueeze(-1)
        return (ctx * w).sum(1) / w.sum(1).clamp(min=1.0)


class SERModel(nn.Module):
    def __init__(self, n_mels=80, d=256, heads=4, layers=4, n_emotions=7):
        super().__init__()
        self.front = ConvFrontend(n_mels, d)
        self.blocks = nn.ModuleList(ContextBlock(d, heads) for _ in range(layers))
        self.pool = EmotionPool(d)
        self.cls = nn.Linear(d, n_emotions)
        self.arousal = nn.Linear(d, 1)

    def forward(self, mel, frame_mask):
        x = self.front(mel)
        frame_mask = frame_mask[:, ::2]
        for blk in self.blocks:
            x = blk(x, frame_mask)
        h = self.pool(x, frame_mask)
        return self.cls(h), self.arousal(h).squeeze(-1)
