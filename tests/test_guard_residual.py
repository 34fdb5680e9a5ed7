"""Residual update ratio ||block(x) - x|| / ||x|| for the user's own blocks (fx: x + f(x))."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from attnlint.guard import AttentionGuard, GuardConfig


class Attention(nn.Module):
    """Hand-written attention with no residual of its own."""

    def __init__(self, dim: int = 16) -> None:
        super().__init__()
        self.qkv = nn.Linear(dim, 3 * dim)

    def forward(self, x: Tensor) -> Tensor:
        q, k, v = self.qkv(x).chunk(3, dim=-1)
        return torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1]), dim=-1) @ v


class Block(nn.Module):
    """The residual lives in the block; the attention in a child module."""

    def __init__(self, dim: int = 16) -> None:
        super().__init__()
        self.ln = nn.LayerNorm(dim)
        self.attn = Attention(dim)
        self.mlp = nn.Linear(dim, dim)

    def forward(self, x: Tensor) -> Tensor:
        x = x + self.attn(self.ln(x))
        return x + self.mlp(x)


class SelfBlock(nn.Module):
    """Attention written in the block's own code, with the residual around it."""

    def __init__(self, dim: int = 16) -> None:
        super().__init__()
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: Tensor) -> Tensor:
        q, k, v = self.qkv(x).chunk(3, dim=-1)
        att = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1]), dim=-1)
        return x + self.proj(att @ v)


class UntraceableBlock(nn.Module):
    """nanoGPT-style: unpacking ``x.shape`` stops fx, so the residual is read from source."""

    def __init__(self, dim: int = 16, heads: int = 2) -> None:
        super().__init__()
        self.qkv = nn.Linear(dim, 3 * dim)
        self.heads = heads

    def forward(self, x: Tensor) -> Tensor:
        B, T, C = x.shape
        q, k, v = (t.view(B, T, self.heads, C // self.heads).transpose(1, 2) for t in
                   self.qkv(x).split(C, dim=2))  # fmt: skip
        att = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(C // self.heads), dim=-1)
        x = x + (att @ v).transpose(1, 2).reshape(B, T, C)
        return x


class Stack(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.blocks = nn.ModuleList([Block(), Block()])
        self.plain = Attention()  # no residual anywhere around it

    def forward(self, x: Tensor) -> Tensor:
        for block in self.blocks:
            x = block(x)
        return self.plain(x)


def _ratio(block: nn.Module, x: Tensor) -> float:
    with torch.no_grad():
        return ((block(x) - x).norm() / x.norm()).item()


def test_block_with_its_own_attention_gets_the_ratio_measured_by_hand() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 16), SelfBlock()).eval()
    x = torch.randn(3, 7, 6)
    guard = AttentionGuard(model, config=GuardConfig(on_violation="log"))
    guard(x)
    report = guard.step()
    guard.close()
    expected = _ratio(model[1], model[0](x))
    assert math.isclose(report.layers["1"].residual_ratio, expected, rel_tol=1e-5)


def test_ratio_goes_to_the_attention_site_inside_the_block() -> None:
    torch.manual_seed(0)
    model = Stack().eval()
    x = torch.randn(2, 5, 16)
    guard = AttentionGuard(model, config=GuardConfig(on_violation="log"))
    guard(x)
    report = guard.step()
    guard.close()
    assert set(report.layers) == {"blocks.0.attn", "blocks.1.attn", "plain"}
    h0 = x
    h1 = model.blocks[0](h0).detach()
    assert math.isclose(
        report.layers["blocks.0.attn"].residual_ratio, _ratio(model.blocks[0], h0), rel_tol=1e-5
    )
    assert math.isclose(
        report.layers["blocks.1.attn"].residual_ratio, _ratio(model.blocks[1], h1), rel_tol=1e-5
    )
    assert report.layers["plain"].residual_ratio is None


def test_untraceable_block_ratio_comes_from_its_source() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(UntraceableBlock(), UntraceableBlock()).eval()
    x = torch.randn(2, 6, 16)
    guard = AttentionGuard(model, config=GuardConfig(on_violation="log"))
    guard(x)
    report = guard.step()
    guard.close()
    h1 = model[0](x).detach()
    assert math.isclose(report.layers["0"].residual_ratio, _ratio(model[0], x), rel_tol=1e-5)
    assert math.isclose(report.layers["1"].residual_ratio, _ratio(model[1], h1), rel_tol=1e-5)


def test_decoder_layers_ratio_goes_to_their_self_attention() -> None:
    torch.manual_seed(0)
    layer = nn.TransformerDecoderLayer(16, 2, 32, batch_first=True)
    decoder = nn.TransformerDecoder(layer, 2).eval()
    tgt, memory = torch.randn(2, 5, 16), torch.randn(2, 7, 16)
    guard = AttentionGuard(decoder, config=GuardConfig(on_violation="log"))
    decoder(tgt, memory)
    report = guard.step()
    guard.close()
    with torch.no_grad():
        h1 = decoder.layers[0](tgt, memory)
    first = report.layers["layers.0.self_attn"].residual_ratio
    second = report.layers["layers.1.self_attn"].residual_ratio
    assert math.isclose(first, ((h1 - tgt).norm() / tgt.norm()).item(), rel_tol=1e-5)
    with torch.no_grad():
        h2 = decoder.layers[1](h1, memory)
    assert math.isclose(second, ((h2 - h1).norm() / h1.norm()).item(), rel_tol=1e-5)
    assert report.layers["layers.0.multihead_attn"].residual_ratio is None
