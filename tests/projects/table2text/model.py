import torch.nn as nn
import torch.nn.functional as F
from layers import MHA, CopyGate


class Table2Text(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        m = cfg.model
        self.cell_proj = nn.Linear(m.n_cell_features, m.d_model)
        self.tok = nn.Embedding(m.vocab_size, m.d_model)
        self.enc = nn.ModuleList(MHA(m.d_model, m.n_heads) for _ in range(m.n_layers))
        self.dec_self = nn.ModuleList(
            MHA(m.d_model, m.n_heads, causal=True) for _ in range(m.n_layers)
        )
        self.dec_cross = nn.ModuleList(MHA(m.d_model, m.n_heads) for _ in range(m.n_layers))
        self.copy = CopyGate(m.d_model)
        self.lm_head = nn.Linear(m.d_model, m.vocab_size)

    def forward(self, cell_feats, cell_pad, input_ids, labels=None):
        h = self.cell_proj(cell_feats)
        for blk in self.enc:
            h = h + blk(h, pad=cell_pad)
        y = self.tok(input_ids)
        for sa, ca in zip(self.dec_self, self.dec_cross):
            y = y + sa(y)
            y = y + ca(y, mem=h, pad=cell_pad)
        gate, ptr = self.copy(y, h, cell_pad)
        logits = self.lm_head(y + gate * ptr)
        out = {"logits": logits}
        if labels is not None:
            out["loss"] = F.cross_entropy(logits.flatten(0, 1), labels.flatten(), ignore_index=-100)
        return out
