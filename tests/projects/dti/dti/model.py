import math

import torch
import torch.nn as nn


def attend(q, k, v, key_keep):
    logits = q @ k.transpose(-2, -1)
    logits = logits.masked_fill(~key_keep[:, None, None, :], torch.finfo(logits.dtype).min)
    return torch.softmax(logits, dim=-1) @ v


class CrossAttention(nn.Module):
    def __init__(self, d, heads):
        super().__init__()
        self.h, self.hd = heads, d // heads
        self.scale = self.hd**-0.5
        self.q_p, self.k_p, self.v_p, self.o = (nn.Linear(d, d) for _ in range(4))

    def split(self, x):
        return x.view(x.shape[0], x.shape[1], self.h, self.hd).transpose(1, 2)

    def forward(self, atoms, residues, atom_keep, res_keep):
        a2r = attend(
            self.split(self.q_p(atoms)) * self.scale,
            self.split(self.k_p(residues)),
            self.split(self.v_p(residues)),
            res_keep,
        )
        r2a = attend(
            self.split(self.q_p(residues)),
            self.split(self.k_p(atoms)),
            self.split(self.v_p(atoms)),
            atom_keep,
        )
        return self.o(a2r.transpose(1, 2).flatten(2)), self.o(r2a.transpose(1, 2).flatten(2))


class ProteinSelfAttention(nn.Module):
    def __init__(self, d, heads):
        super().__init__()
        self.h, self.hd = heads, d // heads
        self.qkv = nn.Linear(d, 3 * d)

    def forward(self, x, keep):
        b, n, _ = x.shape
        q, k, v = self.qkv(x).view(b, n, 3, self.h, self.hd).permute(2, 0, 3, 1, 4)
        s = torch.einsum("bhid,bhjd->bhij", q, k) / math.sqrt(self.hd)
        s = s.masked_fill(~keep[:, None, None, :], -1e4)
        return x + (s.softmax(-1) @ v).transpose(1, 2).reshape(b, n, -1)


class DTIModel(nn.Module):
    def __init__(self, atom_dim, n_residue_types=26, d=128, heads=8):
        super().__init__()
        self.atom_in = nn.Linear(atom_dim, d)
        self.res_emb = nn.Embedding(n_residue_types, d, padding_idx=0)
        self.prot = ProteinSelfAttention(d, heads)
        self.cross = CrossAttention(d, heads)
        self.head = nn.Sequential(nn.Linear(2 * d, d), nn.ReLU(), nn.Linear(d, 1))

    def forward(self, atoms, atom_keep, residues):
        res_keep = residues != 0
        h_a = self.atom_in(atoms)
        h_r = self.prot(self.res_emb(residues), res_keep)
        c_a, c_r = self.cross(h_a, h_r, atom_keep, res_keep)
        pa = (c_a * atom_keep[..., None]).sum(1) / atom_keep.sum(1, keepdim=True).clamp(min=1)
        pr = (c_r * res_keep[..., None]).sum(1) / res_keep.sum(1, keepdim=True).clamp(min=1)
        return self.head(torch.cat([pa, pr], -1)).squeeze(-1)
