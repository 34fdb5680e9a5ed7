import torch
import torch.nn as nn
import torch.nn.functional as F
from transformers import AutoModel


class PassageFusionReranker(nn.Module):
    """Cross-encoder whose query token attends over the retrieved passages' CLS vectors."""

    def __init__(self, backbone="microsoft/deberta-v3-base", temperature=8.0):
        super().__init__()
        self.encoder = AutoModel.from_pretrained(backbone)
        d = self.encoder.config.hidden_size
        self.q = nn.Linear(d, d)
        self.k = nn.Linear(d, d)
        self.v = nn.Linear(d, d)
        self.temperature = temperature
        self.score_head = nn.Linear(2 * d, 1)

    def fuse(self, query_vec, passage_vecs, passage_mask):
        # query_vec: b d, passage_vecs: b p d, passage_mask: b p (True = real passage)
        q = self.q(query_vec).unsqueeze(1)
        k = self.k(passage_vecs)
        scores = torch.bmm(q, k.transpose(1, 2)) / self.temperature
        scores = torch.where(passage_mask[:, None, :], scores, float("-inf"))
        attn = F.softmax(scores, dim=-1)
        ctx = torch.bmm(attn, self.v(passage_vecs))
        attn = torch.nan_to_num(attn)  # keep the saved attention maps plottable
        return ctx.squeeze(1), attn

    def forward(self, input_ids, attention_mask, passage_vecs, passage_mask):
        out = self.encoder(input_ids=input_ids, attention_mask=attention_mask)
        cls = out.last_hidden_state[:, 0]  # b*p d (one row per query-passage pair)
        b, p, d = passage_vecs.shape
        cls = cls.view(b, p, d)
        ctx, _ = self.fuse(cls.mean(1), passage_vecs, passage_mask)
        return self.score_head(torch.cat([cls, ctx[:, None].expand(-1, p, -1)], -1)).squeeze(-1)
