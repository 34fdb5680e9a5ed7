import torch
import torch.nn.functional as F
from einops import rearrange
from torch import nn


def xattend(q, k, v):
    return (q @ k.mT).softmax(dim=-1) @ v


def self_attend(q, k, v):
    return torch.softmax(torch.einsum("bhnd,bhmd->bhnm", q, k), dim=-1) @ v


def ctc_objective(log_probs, targets, in_lens, tgt_lens):
    loss = F.ctc_loss(
        log_probs.transpose(0, 1), targets, in_lens, tgt_lens, blank=0, reduction="mean"
    )
    return torch.nan_to_num(loss, nan=0.0, posinf=0.0)


class MHA(nn.Module):
    def __init__(self, d, heads):
        super().__init__()
        self.h = heads
        self.scale = (d // heads) ** -0.5
        self.q = nn.Linear(d, d)
        self.kv = nn.Linear(d, 2 * d)
        self.o = nn.Linear(d, d)

    def heads(self, t):
        return rearrange(t, "b n (h d) -> b h n d", h=self.h)

    def self_attn(self, x):
        q = self.heads(self.q(x))
        k, v = map(self.heads, self.kv(x).chunk(2, dim=-1))
        return self.o(rearrange(self_attend(q * self.scale, k, v), "b h n d -> b n (h d)"))

    def cross_attn(self, x, mem):
        q = self.heads(self.q(x))
        k, v = map(self.heads, self.kv(mem).chunk(2, dim=-1))
        return self.o(rearrange(xattend(q, k, v), "b h n d -> b n (h d)"))


class AVSR(nn.Module):
    def __init__(self, lip_dim, audio_dim, vocab, d=256, heads=4):
        super().__init__()
        self.lip_in = nn.Linear(lip_dim, d)
        self.audio_in = nn.Linear(audio_dim, d)
        self.a_attn = MHA(d, heads)
        self.v_attn = MHA(d, heads)
        self.fuse = MHA(d, heads)
        self.norm = nn.LayerNorm(d)
        self.out = nn.Linear(d, vocab)

    def forward(self, audio, lips):
        a = self.audio_in(audio)
        v = self.lip_in(F.interpolate(lips.transpose(1, 2), size=audio.shape[1]).transpose(1, 2))
        a = a + self.a_attn.self_attn(a)
        v = v + self.v_attn.self_attn(v)
        h = self.norm(a + self.fuse.cross_attn(a, v))
        return F.log_softmax(self.out(h), dim=-1)
