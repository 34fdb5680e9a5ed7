import torch
import torch.nn as nn
import torch.nn.functional as F


class MultiheadAttention(nn.Module):
    def __init__(self, embed_dim, num_heads):
        super().__init__()
        self.num_heads = num_heads
        self.head_dim = embed_dim // num_heads
        self.scaling = self.head_dim**-0.5
        self.q_proj = nn.Linear(embed_dim, embed_dim)
        self.k_proj = nn.Linear(embed_dim, embed_dim)
        self.v_proj = nn.Linear(embed_dim, embed_dim)
        self.out_proj = nn.Linear(embed_dim, embed_dim)

    def _heads(self, x, bsz):
        return x.contiguous().view(-1, bsz * self.num_heads, self.head_dim).transpose(0, 1)

    def forward(self, query, key, value, key_padding_mask=None):
        tgt_len, bsz, embed_dim = query.shape
        q = self.q_proj(query) * self.scaling
        k = self.k_proj(key)
        v = self.v_proj(value)
        q, k, v = self._heads(q, bsz), self._heads(k, bsz), self._heads(v, bsz)
        attn = torch.bmm(q, k.transpose(1, 2))
        if key_padding_mask is not None:
            attn = attn.view(bsz, self.num_heads, tgt_len, -1)
            attn = attn.masked_fill(key_padding_mask[:, None, None, :], float("-inf"))
            attn = attn.view(bsz * self.num_heads, tgt_len, -1)
        attn = F.softmax(attn, dim=-1)
        out = torch.bmm(attn, v)
        attn = torch.nan_to_num(attn, nan=0.0)
        out = out.transpose(0, 1).contiguous().view(tgt_len, bsz, embed_dim)
        return self.out_proj(out), attn.view(bsz, self.num_heads, tgt_len, -1).mean(1)


class GuardedCrossAttention(nn.Module):
    def __init__(self, embed_dim, num_heads):
        super().__init__()
        self.num_heads = num_heads
        self.head_dim = embed_dim // num_heads
        self.q_proj = nn.Linear(embed_dim, embed_dim)
        self.kv_proj = nn.Linear(embed_dim, 2 * embed_dim)

    def forward(self, tgt, memory, memory_mask):
        b, n, c = tgt.shape
        q = self.q_proj(tgt).view(b, n, self.num_heads, self.head_dim).transpose(1, 2)
        k, v = (
            self.kv_proj(memory)
            .view(b, -1, 2, self.num_heads, self.head_dim)
            .permute(2, 0, 3, 1, 4)
        )
        scores = torch.matmul(q, k.transpose(-1, -2)) / self.head_dim**0.5
        scores = scores.masked_fill(memory_mask[:, None, None, :], float("-inf"))
        probs = scores.softmax(dim=-1)
        probs = torch.nan_to_num(probs)
        return torch.matmul(probs, v).transpose(1, 2).reshape(b, n, c)


class DeformableLikeSampling(nn.Module):
    def __init__(self, dim, n_points=4):
        super().__init__()
        self.weights = nn.Linear(dim, n_points)

    def forward(self, query):
        w = self.weights(query)
        return F.softmax(w, -1)
