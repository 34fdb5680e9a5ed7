import torch
import torch.nn as nn
import torch.nn.functional as F


class AxialAttention(nn.Module):
    def __init__(self, dim, heads=4, axis=2):
        super().__init__()
        self.heads = heads
        self.axis = axis
        self.scale = (dim // heads) ** -0.5
        self.qkv = nn.Conv2d(dim, 3 * dim, 1, bias=False)
        self.proj = nn.Conv2d(dim, dim, 1)

    def forward(self, x):
        b, c, h, w = x.shape
        if self.axis == 3:
            x = x.transpose(2, 3)
            h, w = w, h
        q, k, v = self.qkv(x).chunk(3, dim=1)
        q, k, v = (
            t.reshape(b, self.heads, c // self.heads, h, w).permute(0, 4, 1, 3, 2)
            for t in (q, k, v)
        )
        attn = torch.softmax(q @ k.transpose(-2, -1), dim=-1)
        out = (attn @ v) * self.scale
        out = out.permute(0, 2, 4, 3, 1).reshape(b, c, h, w)
        if self.axis == 3:
            out = out.transpose(2, 3)
        return self.proj(out)


class Down(nn.Sequential):
    def __init__(self, cin, cout):
        super().__init__(nn.Conv2d(cin, cout, 3, 2, 1), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class RoadNet(nn.Module):
    def __init__(self, width, in_chans, n_orient=36):
        super().__init__()
        self.enc = nn.Sequential(
            Down(in_chans, width), Down(width, 2 * width), Down(2 * width, 4 * width)
        )
        self.row = AxialAttention(4 * width, axis=2)
        self.col = AxialAttention(4 * width, axis=3)
        self.seg = nn.Conv2d(4 * width, 1, 1)
        self.orient = nn.Conv2d(4 * width, n_orient, 1)

    def forward(self, img):
        f = self.enc(img)
        f = f + self.row(f)
        f = f + self.col(f)
        size = img.shape[-2:]
        seg = F.interpolate(self.seg(f), size=size, mode="bilinear", align_corners=False)
        ori = F.interpolate(self.orient(f), size=size, mode="bilinear", align_corners=False)
        return seg.squeeze(1), ori
