"""More model families for the pathology tests: stock nn.MultiheadAttention, Hugging Face
BERT / GPT-2 / ViT built from small configs with random weights (no hub download), a
function-style attention taking [B, H, L, d] queries and keys, and a self-attention GAN
block on [B, C, H, W] feature maps. Each comes with the site where findings must appear
and a way to zero its query projection (exactly uniform attention)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
import transformers
from torch import Tensor, nn

D = 16


def _gen(seed: int = 1) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


class MHAModel(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.embed = nn.Linear(6, D)
        self.attn = nn.MultiheadAttention(D, 2, batch_first=True)
        self.head = nn.Linear(D, 1)

    def forward(self, x: Tensor, attn_mask: Tensor | None = None) -> Tensor:
        h = self.embed(x)
        y, _ = self.attn(h, h, h, attn_mask=attn_mask, need_weights=False)
        return self.head(h + y).squeeze(-1)


class HeadsAttention(nn.Module):
    """Attention as a function of multi-head q, k, v [B, H, L, d] (what users hand to
    their own attention helper)."""

    def forward(self, q: Tensor, k: Tensor, v: Tensor) -> Tensor:
        w = torch.softmax(q @ k.transpose(-1, -2) / q.shape[-1] ** 0.5, dim=-1)
        return w @ v


class HeadsModel(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.embed = nn.Linear(6, D)
        self.qkv = nn.Linear(D, 3 * D)
        self.attend = HeadsAttention()
        self.head = nn.Linear(D, 1)

    def forward(self, x: Tensor) -> Tensor:
        b, n, _ = x.shape
        q, k, v = (
            t.view(b, n, 2, D // 2).transpose(1, 2) for t in self.qkv(self.embed(x)).chunk(3, -1)
        )
        y = self.attend(q, k, v).transpose(1, 2).reshape(b, n, D)
        return self.head(y).squeeze(-1)


class SAGANAttention(nn.Module):
    """Self-attention over the pixels of a conv feature map (Zhang et al. 2019)."""

    def __init__(self, c: int = 8) -> None:
        super().__init__()
        self.q = nn.Conv2d(c, c // 2, 1)
        self.k = nn.Conv2d(c, c // 2, 1)
        self.v = nn.Conv2d(c, c, 1)
        self.gamma = nn.Parameter(torch.tensor(0.5))

    def forward(self, x: Tensor) -> Tensor:
        b, c, h, w = x.shape
        q = self.q(x).flatten(2).transpose(1, 2)  # [B, HW, C/2]
        k = self.k(x).flatten(2)  # [B, C/2, HW]
        attn = torch.softmax(torch.bmm(q, k), dim=-1)
        out = torch.bmm(self.v(x).flatten(2), attn.transpose(1, 2)).view(b, c, h, w)
        return x + self.gamma * out


class SAGAN(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.attn = SAGANAttention(8)
        self.head = nn.Linear(8, 1)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.attn(self.conv(x)).mean((2, 3))).squeeze(-1)


def bert(impl: str = "eager") -> nn.Module:
    torch.manual_seed(0)
    cfg = transformers.BertConfig(
        vocab_size=64,
        hidden_size=D,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=32,
        attn_implementation=impl,
    )
    return transformers.BertModel(cfg, add_pooling_layer=False)


def gpt2(impl: str = "eager") -> nn.Module:
    torch.manual_seed(0)
    cfg = transformers.GPT2Config(
        vocab_size=64,
        n_positions=32,
        n_embd=D,
        n_layer=2,
        n_head=2,
        attn_implementation=impl,
        bos_token_id=0,
        eos_token_id=0,
    )
    return transformers.GPT2Model(cfg)


def vit(impl: str = "eager") -> nn.Module:
    torch.manual_seed(0)
    cfg = transformers.ViTConfig(
        image_size=16,
        patch_size=4,
        num_channels=3,
        hidden_size=D,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=32,
        attn_implementation=impl,
    )
    return transformers.ViTModel(cfg, add_pooling_layer=False)


def _ids() -> tuple[tuple, dict]:
    return (), {"input_ids": torch.randint(0, 64, (3, 10), generator=_gen())}


def _pixels() -> tuple[tuple, dict]:
    return (), {"pixel_values": torch.randn(2, 3, 16, 16, generator=_gen())}


def _zero_linear(*layers: nn.Module) -> None:
    with torch.no_grad():
        for lin in layers:
            lin.weight.zero_()
            lin.bias.zero_()


def _zero_gpt2_query(m: nn.Module) -> None:
    with torch.no_grad():
        for block in m.h:
            block.attn.c_attn.weight[:, :D].zero_()  # Conv1D: [in, 3 * embed]
            block.attn.c_attn.bias[:D].zero_()


def _zero_mha_query(mha: nn.MultiheadAttention) -> None:
    with torch.no_grad():
        mha.in_proj_weight[: mha.embed_dim].zero_()
        mha.in_proj_bias[: mha.embed_dim].zero_()


@dataclass
class Zoo:
    name: str
    make: Callable[[], nn.Module]
    batch: Callable[[], tuple[tuple, dict]]
    site: str
    zero_query: Callable[[nn.Module], None]


def _seeded(cls: type[nn.Module]) -> Callable[[], nn.Module]:
    def make() -> nn.Module:
        torch.manual_seed(0)
        return cls()

    return make


ZOO = [
    Zoo(
        "mha",
        _seeded(MHAModel),
        lambda: ((torch.randn(3, 8, 6, generator=_gen()),), {}),
        "attn",
        lambda m: _zero_mha_query(m.attn),
    ),
    Zoo(
        "heads",
        _seeded(HeadsModel),
        lambda: ((torch.randn(3, 8, 6, generator=_gen()),), {}),
        "attend",
        lambda m: _zero_linear_rows(m.qkv),
    ),
    Zoo(
        "sagan",
        _seeded(SAGAN),
        lambda: ((torch.randn(2, 3, 6, 6, generator=_gen()),), {}),
        "attn",
        lambda m: _zero_linear(m.attn.q),
    ),
    *[
        Zoo(
            f"bert-{impl}",
            lambda impl=impl: bert(impl),
            _ids,
            "encoder.layer.0.attention.self",
            lambda m: [_zero_linear(layer.attention.self.query) for layer in m.encoder.layer],
        )
        for impl in ("eager", "sdpa")
    ],
    *[
        Zoo(f"gpt2-{impl}", lambda impl=impl: gpt2(impl), _ids, "h.0.attn", _zero_gpt2_query)
        for impl in ("eager", "sdpa")
    ],
    *[
        Zoo(
            f"vit-{impl}",
            lambda impl=impl: vit(impl),
            _pixels,
            "layers.0.attention",
            lambda m: [_zero_linear(layer.attention.q_proj) for layer in m.layers],
        )
        for impl in ("eager", "sdpa")
    ],
]


def _zero_linear_rows(qkv: nn.Linear) -> None:
    with torch.no_grad():
        qkv.weight[:D].zero_()
        qkv.bias[:D].zero_()


def output_of(out: Any) -> Tensor:
    if isinstance(out, Tensor):
        return out
    if hasattr(out, "last_hidden_state"):
        return out.last_hidden_state
    return out[0]
