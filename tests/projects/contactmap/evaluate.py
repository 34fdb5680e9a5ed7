import torch


@torch.no_grad()
def precision_at_l(model, loader, frac=1.0, min_sep=24):
    model.eval()
    precs = []
    for batch in loader:
        logits = model(batch["emb"], batch["pair_extra"], batch["res_mask"])
        probs = torch.nan_to_num(torch.sigmoid(logits), nan=0.0)
        for p, c, m in zip(probs, batch["contacts"], batch["res_mask"]):
            n = int(m.sum())
            p, c = p[:n, :n], c[:n, :n]
            iu = torch.triu_indices(n, n, offset=min_sep)
            scores, truth = p[iu[0], iu[1]], c[iu[0], iu[1]]
            k = max(1, int(frac * n))
            top = scores.topk(min(k, len(scores))).indices
            precs.append(truth[top].float().mean().item())
    return sum(precs) / max(len(precs), 1)
