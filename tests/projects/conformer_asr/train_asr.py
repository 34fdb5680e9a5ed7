import torch
import torch.nn.functional as F
from conformer import Conformer


def train(cfg, loader, pos_emb):
    model = Conformer(n_mels=cfg["features"]["n_mels"], d_model=cfg["model"]["d_model"])
    opt = torch.optim.Adam(model.parameters(), lr=cfg["lr"], betas=(0.9, 0.98))
    for feats, feat_lens, mask, tokens, token_lens in loader:
        if feats.size(-1) != cfg["features"]["n_mels"]:
            raise ValueError("feature extractor produced a different number of mel bins")
        logits = model(feats, pos_emb, mask)
        log_probs = F.log_softmax(logits, dim=-1)
        log_probs = log_probs.nan_to_num(neginf=-1e4)
        loss = F.ctc_loss(
            log_probs.transpose(0, 1), tokens, feat_lens // 2, token_lens, zero_infinity=True
        )
        opt.zero_grad()
        loss.backward()
        grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        if torch.isnan(grad_norm):
            opt.zero_grad()
            continue
        opt.step()
