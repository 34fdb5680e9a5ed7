import torch.nn as nn

from .registry import register_model


class Attention(nn.Module):
    def __init__(self, dim, num_heads=8):
        super().__init__()
        self.num_heads = num_heads
        self.scale = (dim // num_heads) ** -0.5
        self.qkv = nn.Linear(dim, dim * 3)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x):
        B, N, C = x.shape
        qkv = self.qkv(x).reshape(B, N, 3, self.num_heads, C // self.num_heads)
        q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)
        attn = (q @ k.transpose(-2, -1)) * self.scale
        attn = attn.softmax(dim=-1)
        return self.proj((attn @ v).transpose(1, 2).reshape(B, N, C))


class TalkingHeadAttention(nn.Module):
    def __init__(self, dim, num_heads=8):
        super().__init__()
        self.num_heads = num_heads
        self.qkv = nn.Linear(dim, dim * 3)
        self.proj_l = nn.Linear(num_heads, num_heads)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x):
        B, N, C = x.shape
        qkv = self.qkv(x).reshape(B, N, 3, self.num_heads, C // self.num_heads)
        q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)
        attn = q @ k.mT
        attn = self.proj_l(attn.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)
        attn = attn.softmax(dim=-1)
        return self.proj((attn @ v).transpose(1, 2).reshape(B, N, C))


class TabularViT(nn.Module):
    def __init__(self, in_features, embed_dim=192, depth=4, num_classes=10, talking=False):
        super().__init__()
        self.embed = nn.Linear(in_features, embed_dim)
        block = TalkingHeadAttention if talking else Attention
        self.blocks = nn.ModuleList([block(embed_dim) for _ in range(depth)])
        self.head = nn.Linear(embed_dim, num_classes)

    def forward(self, x):
        x = self.embed(x)
        for blk in self.blocks:
            x = x + blk(x)
        return self.head(x.mean(1))


@register_model
def tab_vit_tiny(in_features, **kw):
    return TabularViT(in_features, embed_dim=192, **kw)


@register_model
def tab_vit_talking(in_features, **kw):
    return TabularViT(in_features, embed_dim=192, talking=True, **kw)
