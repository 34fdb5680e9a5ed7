import torch
import torch.nn as nn


class EventEncoder(nn.Module):
    def __init__(self, n_event_features, n_merchants, d_model):
        super().__init__()
        self.num = nn.Linear(n_event_features, d_model)
        self.merchant = nn.Embedding(n_merchants, d_model)
        self.delta_t = nn.Linear(1, d_model)

    def forward(self, feats, merchant_ids, dt):
        return (
            self.num(feats) + self.merchant(merchant_ids) + self.delta_t(dt.unsqueeze(-1).log1p())
        )


class FraudNet(nn.Module):
    def __init__(self, n_event_features, n_merchants=5000, d_model=128, n_heads=4, n_layers=2):
        super().__init__()
        self.encoder = EventEncoder(n_event_features, n_merchants, d_model)
        layer = nn.TransformerEncoderLayer(
            d_model, n_heads, 4 * d_model, batch_first=True, norm_first=True
        )
        self.blocks = nn.TransformerEncoder(layer, n_layers)
        self.cls = nn.Parameter(torch.randn(1, 1, d_model) * 0.02)
        self.q_proj = nn.Linear(d_model, d_model)
        self.k_proj = nn.Linear(d_model, d_model)
        self.v_proj = nn.Linear(d_model, d_model)
        self.scale = d_model**-0.5
        self.head = nn.Linear(d_model, 1)

    def _attend(self, q, k, v, keep):
        logits = torch.bmm(q, k.transpose(1, 2))
        logits = logits.masked_fill(~keep[:, None, :], float("-inf"))
        return torch.softmax(logits, dim=-1) @ v

    def forward(self, feats, merchant_ids, dt, keep):
        b = feats.shape[0]
        h = self.encoder(feats, merchant_ids, dt)
        h = torch.cat([self.cls.expand(b, -1, -1), h], dim=1)
        keep = torch.cat([torch.ones(b, 1, dtype=torch.bool, device=keep.device), keep], dim=1)
        h = self.blocks(h, src_key_padding_mask=~keep)
        pooled = self._attend(self.q_proj(h[:, :1]), self.k_proj(h), self.v_proj(h), keep)
        return self.head(pooled.squeeze(1)).squeeze(-1)


def build(cfg):
    return FraudNet(
        cfg.n_event_features, n_merchants=cfg.n_merchants, d_model=cfg.d_model, n_heads=cfg.n_heads
    )
