import torch


def approx_ndcg(scores, relevance, alpha=10.0):
    scores = torch.clamp(scores, -50.0, 50.0)
    diff = scores.unsqueeze(-1) - scores.unsqueeze(-2)
    approx_rank = 1.0 + torch.sigmoid(-alpha * diff).sum(-1) - 0.5
    gains = (2.0**relevance - 1.0) / torch.log2(1.0 + approx_rank)
    return -gains.sum(-1).mean()


def listnet(scores, relevance):
    p_true = torch.softmax(relevance, dim=-1)
    log_p = torch.log_softmax(scores, dim=-1)
    loss = -(p_true * log_p).sum(-1).mean()
    return torch.nan_to_num(loss, nan=0.0)


def cosine_margin(a, b):
    cos = torch.nn.functional.cosine_similarity(a, b, dim=-1)
    theta = torch.acos(cos.clamp(-1.0 + 1e-6, 1.0 - 1e-6))
    return theta.mean()
