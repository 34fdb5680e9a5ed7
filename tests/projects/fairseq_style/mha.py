import torch
import torch.nn as nn
from utils import softmax


class MultiheadAttention(nn.Module):
    def __init__(self, embed_dim, num_heads):
        super().__init__()
        self.num_heads = num_heads
        self.head_dim = embed_dim // num_heads
        self.scaling = self.head_dim**-0.5
        self.in_proj = nn.Linear(embed_dim, 3 * embed_dim)

    def forward(self, x, key_padding_mask=None):
        tgt_len, bsz, embed_dim = x.size()
        q, k, v = self.in_proj(x).chunk(3, dim=-1)
        q *= self.scaling
        q = q.contiguous().view(tgt_len, bsz * self.num_heads, self.head_dim).transpose(0, 1)
        k = k.contiguous().view(-1, bsz * self.num_heads, self.head_dim).transpose(0, 1)
        v = v.contiguous().view(-1, bsz * self.num_heads, self.head_dim).transpose(0, 1)
        attn_weights = torch.bmm(q, k.transpose(1, 2))
        if key_padding_mask is not None:
            attn_weights = attn_weights.view(bsz, self.num_heads, tgt_len, -1)
            attn_weights = attn_weights.masked_fill(
                key_padding_mask.unsqueeze(1).unsqueeze(2).to(torch.bool),
                float("-inf"),
            )
            attn_weights = attn_weights.view(bsz * self.num_heads, tgt_len, -1)
        attn_probs = softmax(attn_weights, dim=-1)
        return torch.bmm(attn_probs, v).transpose(0, 1).reshape(tgt_len, bsz, embed_dim)


class BiasAttention(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.qkv = nn.Linear(dim, 3 * dim)
        self.scale = dim**-0.5

    def forward(self, x, mask):
        q, k, v = self.qkv(x).chunk(3, dim=-1)
        bias = torch.zeros(mask.shape, dtype=x.dtype, device=x.device)
        bias = bias.masked_fill(~mask, float("-inf"))
        attn = (q @ k.transpose(-2, -1) * self.scale + bias[:, None, :]).softmax(-1)
        return attn @ v


class TransposeAttention(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.q = nn.Linear(dim, dim)
        self.k = nn.Linear(dim, dim)

    def forward(self, x):
        q, k = self.q(x), self.k(x)
        attn = torch.softmax(torch.matmul(q, torch.transpose(k, -2, -1)), dim=-1)
        return attn @ x

    def permuted(self, x):
        q = self.q(x).view(x.size(0), x.size(1), 4, -1).permute(0, 2, 1, 3)
        k = self.k(x).view(x.size(0), x.size(1), 4, -1).permute(0, 2, 3, 1)
        attn = torch.matmul(q, k).softmax(dim=-1)
        return attn
