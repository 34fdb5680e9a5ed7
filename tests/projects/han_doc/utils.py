import numpy as np
import torch


def mask_logits(scores, mask):
    return scores.masked_fill(~mask, float("-inf"))


def clip_(model, max_norm):
    return torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm)


def load_vectors(path, vocab):
    table = np.load(path, allow_pickle=True).item()
    dim = len(next(iter(table.values())))
    emb = np.random.normal(0, 0.1, size=(len(vocab), dim)).astype("float32")
    for i, w in enumerate(vocab):
        if w in table:
            emb[i] = table[w]
    return torch.from_numpy(emb)
