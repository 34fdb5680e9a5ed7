import fire
import torch
import torch.nn.functional as F
from config import get_config


@torch.no_grad()
def beam_scores(decoder, enc, beam=3, max_len=20, bos=1):
    h = decoder.init_h(enc.mean(1)).expand(beam, -1).contiguous()
    c = decoder.init_c(enc.mean(1)).expand(beam, -1).contiguous()
    words = torch.full((beam,), bos, dtype=torch.long)
    total = torch.zeros(beam)
    enc = enc.expand(beam, -1, -1)
    for _ in range(max_len):
        ctx, _ = decoder.attention(enc, h)
        ctx = torch.sigmoid(decoder.f_beta(h)) * ctx
        h, c = decoder.decode_step(torch.cat([decoder.embedding(words), ctx], 1), (h, c))
        logp = F.log_softmax(decoder.fc(h), dim=1)
        top, idx = (total[:, None] + logp).view(-1).topk(beam)
        total, words = top, idx % logp.shape[1]
    probs = total.softmax(0).clamp(0.0, 1.0)
    return words, probs


def show(weights="sat_decoder.pt", feat="example_feat.pt"):
    cfg = get_config()
    print(cfg.model, weights, feat)


if __name__ == "__main__":
    fire.Fire({"show": show, "beam": beam_scores})
