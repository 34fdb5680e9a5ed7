import torch
import torch.nn as nn


class SelfAttention(nn.Module):
    def __init__(self, dim, heads=12, drop=0.0):
        super().__init__()
        self.heads = heads
        head_dim = dim // heads
        self.scale = head_dim**-0.5
        self.qkv = nn.Linear(dim, dim * 3, bias=False)
        self.proj = nn.Linear(dim, dim)
        self.drop = nn.Dropout(drop)

    def forward(self, x):
        b, n, c = x.shape
        qkv = self.qkv(x).reshape(b, n, 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.unbind(0)
        attn = (q @ k.transpose(-2, -1)) * self.scale
        attn = self.drop(attn.softmax(dim=-1))
        x = (attn @ v).transpose(1, 2).reshape(b, n, c)
        return self.proj(x)


class Block(nn.Module):
    def __init__(self, dim, heads, mlp_ratio=4.0):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = SelfAttention(dim, heads)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(
            nn.Linear(dim, int(dim * mlp_ratio)), nn.GELU(), nn.Linear(int(dim * mlp_ratio), dim)
        )

    def forward(self, x):
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


def up(cin, cout):
    return nn.Sequential(
        nn.ConvTranspose3d(cin, cout, 2, stride=2),
        nn.InstanceNorm3d(cout),
        nn.LeakyReLU(inplace=True),
    )


class UNETR(nn.Module):
    def __init__(
        self,
        in_channels,
        out_channels,
        img_size=(96, 96, 96),
        patch=16,
        dim=768,
        depth=12,
        heads=12,
    ):
        super().__init__()
        self.grid = [s // patch for s in img_size]
        self.patch_embed = nn.Conv3d(in_channels, dim, patch, stride=patch)
        n = self.grid[0] * self.grid[1] * self.grid[2]
        self.pos = nn.Parameter(torch.zeros(1, n, dim))
        self.blocks = nn.ModuleList(Block(dim, heads) for _ in range(depth))
        self.skip_layers = (2, 5, 8)
        self.dec4 = up(dim, 256)
        self.dec3 = nn.Sequential(up(dim, 256), up(256, 256))
        self.fuse3 = nn.Conv3d(512, 256, 3, padding=1)
        self.dec2 = up(256, 128)
        self.dec1 = up(128, 64)
        self.dec0 = up(64, 32)
        self.stem = nn.Conv3d(in_channels, 32, 3, padding=1)
        self.head = nn.Conv3d(64, out_channels, 1)

    def tokens_to_volume(self, t):
        b, n, c = t.shape
        return t.transpose(1, 2).reshape(b, c, *self.grid)

    def forward(self, x):
        t = self.patch_embed(x).flatten(2).transpose(1, 2) + self.pos
        skips = []
        for i, blk in enumerate(self.blocks):
            t = blk(t)
            if i in self.skip_layers:
                skips.append(t)
        y = self.dec4(self.tokens_to_volume(t))
        y = self.fuse3(torch.cat([y, self.dec3(self.tokens_to_volume(skips[-1]))], 1))
        y = self.dec0(self.dec1(self.dec2(y)))
        return self.head(torch.cat([y, self.stem(x)], 1))
