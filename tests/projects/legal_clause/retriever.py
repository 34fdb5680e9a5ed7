import math

import torch
import torch.nn.functional as F
from torch import nn
from transformers import AutoModel


def segment_logits(scores, seg_valid):
    return torch.where(seg_valid, scores, float("-inf"))


class ClauseRetriever(nn.Module):
    def __init__(self, mcfg):
        super().__init__()
        self.encoder = AutoModel.from_pretrained(mcfg.backbone)
        hidden = self.encoder.config.hidden_size
        self.meta = nn.Linear(mcfg.n_meta_features, hidden)
        self.pool_q = nn.Parameter(torch.randn(hidden) / math.sqrt(hidden))
        self.pool_k = nn.Linear(hidden, hidden)
        self.seg_q = nn.Linear(hidden, hidden)
        self.seg_k = nn.Linear(hidden, hidden)
        self.logit_scale = nn.Parameter(torch.tensor(math.log(1 / 0.07)))

    def token_pool(self, input_ids, attention_mask):
        h = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        w = (self.pool_k(h) @ self.pool_q) / math.sqrt(h.shape[-1])
        w = w.masked_fill(attention_mask == 0, torch.finfo(w.dtype).min)
        return (w.softmax(-1).unsqueeze(-1) * h).sum(1)

    def encode_query(self, input_ids, attention_mask, meta):
        return F.normalize(self.token_pool(input_ids, attention_mask) + self.meta(meta), dim=-1)

    def encode_contract(self, seg_ids, seg_mask, seg_valid):
        b, s, t = seg_ids.shape
        segs = self.token_pool(seg_ids.view(b * s, t), seg_mask.view(b * s, t)).view(b, s, -1)
        q = self.seg_q(segs.mean(1, keepdim=True))
        k = self.seg_k(segs)
        scores = (q @ k.mT).squeeze(1) / math.sqrt(k.shape[-1])
        w = segment_logits(scores, seg_valid).softmax(dim=-1)
        return F.normalize((w.unsqueeze(-1) * segs).sum(1), dim=-1)

    def similarity(self, qv, cv):
        return self.logit_scale.clamp(max=math.log(100.0)).exp() * qv @ cv.T
