import torch
import torch.nn.functional as F
from torch import nn


class CrossModal(nn.Module):
    def __init__(self, d_model):
        super().__init__()
        self.q = nn.Linear(d_model, d_model)
        self.k = nn.Linear(d_model, d_model)
        self.v = nn.Linear(d_model, d_model)

    def cross_scores(self, text, other):
        return torch.matmul(self.q(text), self.k(other).transpose(1, 2))

    def forward(self, text, other, other_pad):
        scores = self.cross_scores(text, other)
        scores = scores.masked_fill(other_pad[:, None, :], -1e4)
        attn = scores.softmax(dim=-1)
        return text + attn @ self.v(other)


class TextEncoder(nn.Module):
    def __init__(self, vocab, d_model, heads):
        super().__init__()
        self.heads = heads
        self.emb = nn.Embedding(vocab, d_model)
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.norm = nn.LayerNorm(d_model)

    def forward(self, tokens, pad):
        x = self.emb(tokens)
        b, t, d = x.shape
        q, k, v = self.qkv(x).view(b, t, 3, self.heads, d // self.heads).unbind(2)
        q, k, v = (z.transpose(1, 2) for z in (q, k, v))
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=~pad[:, None, None, :])
        return self.norm(x + y.transpose(1, 2).reshape(b, t, d))


class MultimodalSentiment(nn.Module):
    def __init__(self, vocab, audio_dim, video_dim, d_model=256, heads=4, n_emotions=6):
        super().__init__()
        self.text = TextEncoder(vocab, d_model, heads)
        self.audio_proj = nn.Linear(audio_dim, d_model)
        self.video_proj = nn.Linear(video_dim, d_model)
        self.t2a = CrossModal(d_model)
        self.t2v = CrossModal(d_model)
        self.reg_head = nn.Linear(d_model, 1)
        self.cls_head = nn.Linear(d_model, n_emotions)

    def forward(self, batch):
        pad = batch["text_pad"]
        h = self.text(batch["tokens"], pad)
        h = self.t2a(h, self.audio_proj(batch["audio"]), batch["audio_pad"])
        h = self.t2v(h, self.video_proj(batch["video"]), batch["video_pad"])
        keep = (~pad).unsqueeze(-1).float()
        pooled = (h * keep).sum(1) / keep.sum(1).clamp(min=1.0)
        return {"sentiment": self.reg_head(pooled).squeeze(-1), "emotion": self.cls_head(pooled)}
