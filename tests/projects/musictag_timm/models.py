import torch
import torch.nn as nn
import torch.nn.functional as F

_model_entrypoints = {}
default_cfgs = {
    "audio_vit_tiny": dict(freq_dim=128, patch=16, embed_dim=192, depth=12, num_heads=3),
    "audio_vit_small": dict(freq_dim=128, patch=16, embed_dim=384, depth=12, num_heads=6),
}


def register_model(fn):
    _model_entrypoints[fn.__name__] = fn
    return fn


def create_model(model_name, pretrained=False, **kwargs):
    if model_name not in _model_entrypoints:
        raise RuntimeError(f"Unknown model ({model_name})")
    return _model_entrypoints[model_name](pretrained=pretrained, **kwargs)


class Attention(nn.Module):
    def __init__(self, dim, num_heads=8, qkv_bias=True, fused_attn=True):
        super().__init__()
        self.num_heads = num_heads
        self.head_dim = dim // num_heads
        self.scale = self.head_dim**-0.5
        self.fused_attn = fused_attn
        self.qkv = nn.Linear(dim, dim * 3, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim)

    def _slow_attn(self, q, k, v, keep):
        attn = q @ k.transpose(-2, -1)
        if keep is not None:
            attn = attn.masked_fill(~keep[:, None, None, :], torch.finfo(attn.dtype).min)
        attn = attn.softmax(dim=-1)
        return attn @ v

    def forward(self, x, keep=None):
        B, N, C = x.shape
        qkv = self.qkv(x).reshape(B, N, 3, self.num_heads, self.head_dim).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.unbind(0)
        if self.fused_attn and keep is None:
            x = F.scaled_dot_product_attention(q, k, v)
        else:
            x = self._slow_attn(q, k, v, keep)
        return self.proj(x.transpose(1, 2).reshape(B, N, C))


class Block(nn.Module):
    def __init__(self, dim, num_heads, mlp_ratio=4.0):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = Attention(dim, num_heads)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(
            nn.Linear(dim, int(dim * mlp_ratio)), nn.GELU(), nn.Linear(int(dim * mlp_ratio), dim)
        )

    def forward(self, x, keep=None):
        x = x + self.attn(self.norm1(x), keep)
        return x + self.mlp(self.norm2(x))


class AudioViT(nn.Module):
    def __init__(
        self,
        freq_dim=128,
        patch=16,
        embed_dim=192,
        depth=12,
        num_heads=3,
        num_classes=50,
        max_frames=1024,
    ):
        super().__init__()
        self.patch_embed = nn.Conv2d(
            1, embed_dim, kernel_size=(freq_dim, patch), stride=(freq_dim, patch)
        )
        self.cls_token = nn.Parameter(torch.zeros(1, 1, embed_dim))
        self.pos_embed = nn.Parameter(torch.randn(1, max_frames // patch + 1, embed_dim) * 0.02)
        self.blocks = nn.ModuleList([Block(embed_dim, num_heads) for _ in range(depth)])
        self.norm = nn.LayerNorm(embed_dim)
        self.head = nn.Linear(embed_dim, num_classes)

    def forward(self, spec, patch_keep=None):
        x = self.patch_embed(spec.unsqueeze(1)).flatten(2).transpose(1, 2)
        x = (
            torch.cat([self.cls_token.expand(x.size(0), -1, -1), x], dim=1)
            + self.pos_embed[:, : x.size(1) + 1]
        )
        keep = None if patch_keep is None else F.pad(patch_keep, (1, 0), value=True)
        for blk in self.blocks:
            x = blk(x, keep)
        return self.head(self.norm(x)[:, 0])


@register_model
def audio_vit_tiny(pretrained=False, **kwargs):
    return AudioViT(**{**default_cfgs["audio_vit_tiny"], **kwargs})


@register_model
def audio_vit_small(pretrained=False, **kwargs):
    return AudioViT(**{**default_cfgs["audio_vit_small"], **kwargs})
