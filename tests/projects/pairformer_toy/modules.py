import torch
import torch.nn as nn
from utils import masked_logits, pair_mask_from, permute_final_dims


class MSARowAttentionWithPairBias(nn.Module):
    def __init__(self, c_m, c_z, c_hidden=32, n_heads=8):
        super().__init__()
        self.c_hidden = c_hidden
        self.n_heads = n_heads
        self.ln_m = nn.LayerNorm(c_m)
        self.ln_z = nn.LayerNorm(c_z)
        self.to_q = nn.Linear(c_m, c_hidden * n_heads, bias=False)
        self.to_k = nn.Linear(c_m, c_hidden * n_heads, bias=False)
        self.to_v = nn.Linear(c_m, c_hidden * n_heads, bias=False)
        self.to_b = nn.Linear(c_z, n_heads, bias=False)
        self.to_g = nn.Linear(c_m, c_hidden * n_heads)
        self.to_out = nn.Linear(c_hidden * n_heads, c_m)

    def _heads(self, t):
        return t.view(*t.shape[:-1], self.n_heads, self.c_hidden).transpose(-2, -3)

    def forward(self, m, z, msa_mask):
        # m [B, S, R, c_m], z [B, R, R, c_z], msa_mask [B, S, R]
        m = self.ln_m(m)
        q = self._heads(self.to_q(m)) * (self.c_hidden**-0.5)
        k = self._heads(self.to_k(m))
        v = self._heads(self.to_v(m))
        bias = permute_final_dims(self.to_b(self.ln_z(z)), 2, 0, 1).unsqueeze(1)
        logits = torch.einsum("bshqc,bshkc->bshqk", q, k) + bias
        a = masked_logits(logits, msa_mask[:, :, None, None, :]).softmax(-1)
        o = torch.einsum("bshqk,bshkc->bshqc", a, v).transpose(-2, -3)
        o = o.reshape(*o.shape[:-2], -1) * torch.sigmoid(self.to_g(m))
        return self.to_out(o)


class TriangleAttentionStartingNode(nn.Module):
    def __init__(self, c_z, c_hidden=32, n_heads=4, inf=1e9):
        super().__init__()
        self.c_hidden = c_hidden
        self.n_heads = n_heads
        self.inf = inf
        self.ln = nn.LayerNorm(c_z)
        self.to_qkv = nn.Linear(c_z, 3 * c_hidden * n_heads, bias=False)
        self.to_b = nn.Linear(c_z, n_heads, bias=False)
        self.to_out = nn.Linear(c_hidden * n_heads, c_z)

    def forward(self, z, pair_mask):
        # z [B, I, J, c_z]; attention over k for each (i, j), biased by z[j, k]
        z = self.ln(z)
        qkv = self.to_qkv(z).view(*z.shape[:-1], 3, self.n_heads, self.c_hidden)
        q, k, v = (t.transpose(-2, -3) for t in qkv.unbind(-3))  # [B, I, H, J, C]
        tri_bias = permute_final_dims(self.to_b(z), 2, 0, 1).unsqueeze(1)  # [B, 1, H, J, K]
        mask_bias = (self.inf * (pair_mask[:, :, None, None, :] - 1)).to(z.dtype)
        logits = torch.einsum("bihjc,bihkc->bihjk", q, k) + tri_bias + mask_bias
        a = torch.softmax(logits, dim=-1)
        o = torch.einsum("bihjk,bihkc->bihjc", a, v).transpose(-2, -3)
        return self.to_out(o.reshape(*o.shape[:-2], -1))


class PairStack(nn.Module):
    def __init__(self, c_m, c_z, n_blocks=2):
        super().__init__()
        self.row_attn = nn.ModuleList(
            MSARowAttentionWithPairBias(c_m, c_z) for _ in range(n_blocks)
        )
        self.tri_attn = nn.ModuleList(TriangleAttentionStartingNode(c_z) for _ in range(n_blocks))
        self.opm = nn.ModuleList(nn.Linear(c_m, c_z) for _ in range(n_blocks))

    def forward(self, m, z, msa_mask, seq_mask):
        pair_mask = pair_mask_from(seq_mask)
        for row, tri, opm in zip(self.row_attn, self.tri_attn, self.opm):
            m = m + row(m, z, msa_mask)
            mean = opm(m).mean(1)
            z = z + mean[:, :, None, :] + mean[:, None, :, :]
            z = z + tri(z, pair_mask)
        return m, z


class ToyFold(nn.Module):
    def __init__(self, n_aa=21, c_m=64, c_z=32, n_bins=64):
        super().__init__()
        self.msa_emb = nn.Embedding(n_aa + 2, c_m)
        self.left = nn.Embedding(n_aa, c_z)
        self.right = nn.Embedding(n_aa, c_z)
        self.stack = PairStack(c_m, c_z)
        self.disto_head = nn.Linear(c_z, n_bins)
        self.torsion_head = nn.Linear(c_m, 4)

    def forward(self, batch):
        m = self.msa_emb(batch["msa"])
        aa = batch["aatype"]
        z = self.left(aa)[:, :, None] + self.right(aa)[:, None, :]
        m, z = self.stack(m, z, batch["msa_mask"], batch["seq_mask"])
        disto = self.disto_head(z + z.transpose(1, 2))
        tors = self.torsion_head(m[:, 0]).view(*m.shape[:2][:1], m.shape[2], 2, 2)
        tors = tors / tors.norm(dim=-1, keepdim=True).clamp(min=1e-6)
        return {"distogram_logits": disto, "torsions": tors}
