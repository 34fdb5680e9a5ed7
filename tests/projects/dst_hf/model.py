import math

import torch
import torch.nn as nn
import torch.nn.functional as F
from transformers import AutoModel


class SlotTurnAttention(nn.Module):
    def __init__(self, hidden, n_slots):
        super().__init__()
        self.slot_queries = nn.Parameter(torch.randn(n_slots, hidden) * 0.02)
        self.k = nn.Linear(hidden, hidden)
        self.v = nn.Linear(hidden, hidden)
        self.d = hidden

    def forward(self, turns, turn_mask):
        k = self.k(turns)
        v = self.v(turns)
        scores = torch.einsum("sd,btd->bst", self.slot_queries, k) / math.sqrt(self.d)
        scores = scores.masked_fill(turn_mask[:, None, :] == 0, float("-inf"))
        attn = F.softmax(scores, dim=-1)
        return attn @ v, attn


class CausalTurnEncoder(nn.Module):
    def __init__(self, hidden, max_turns=64):
        super().__init__()
        self.qkv = nn.Linear(hidden, 3 * hidden)
        self.register_buffer("causal", torch.tril(torch.ones(max_turns, max_turns)).bool())

    def forward(self, h):
        t = h.shape[1]
        q, k, v = self.qkv(h).chunk(3, dim=-1)
        s = q @ k.transpose(-2, -1) / q.shape[-1] ** 0.5
        s = s.masked_fill(~self.causal[:t, :t], float("-inf"))
        return s.softmax(-1) @ v


class DialogueStateTracker(nn.Module):
    def __init__(self, encoder_name, n_slots, n_gates=3):
        super().__init__()
        self.encoder = AutoModel.from_pretrained(encoder_name)
        hidden = self.encoder.config.hidden_size
        self.turns = CausalTurnEncoder(hidden)
        self.slot_attn = SlotTurnAttention(hidden, n_slots)
        self.gate = nn.Linear(hidden, n_gates)
        self.span = nn.Linear(hidden, 2)

    def forward(self, input_ids, attention_mask, turn_index, turn_mask, **_):
        tok = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        b, n_tok, hid = tok.shape
        turn_repr = torch.zeros(b, turn_mask.shape[1], hid, device=tok.device, dtype=tok.dtype)
        turn_repr.scatter_reduce_(1, turn_index[..., None].expand(-1, -1, hid), tok, "mean")
        turn_repr = self.turns(turn_repr)
        slot_ctx, attn = self.slot_attn(turn_repr, turn_mask)
        start, end = self.span(tok).unbind(-1)
        start = start.masked_fill(attention_mask == 0, torch.finfo(start.dtype).min)
        end = end.masked_fill(attention_mask == 0, torch.finfo(end.dtype).min)
        return {
            "gate_logits": self.gate(slot_ctx),
            "start_logits": start,
            "end_logits": end,
            "slot_attn": attn,
        }
