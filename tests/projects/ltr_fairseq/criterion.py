import torch
import torch.nn.functional as F


def _temper(scores, bound=20.0):
    return scores.clamp(-bound, bound)


def listnet_loss(scores, relevance, pad):
    s = _temper(scores)
    s = s.masked_fill(pad, -1e4)
    target = torch.softmax(relevance.float().masked_fill(pad, -1e4), dim=-1)
    target = target.clamp(min=1e-10)
    return -(target * F.log_softmax(s, dim=-1)).sum(-1).mean()


@torch.no_grad()
def ndcg_at_k(scores, relevance, pad, k=10):
    scores = scores.nan_to_num(nan=-1e4).masked_fill(pad, -1e4)
    order = scores.argsort(dim=-1, descending=True)[:, :k]
    gains = 2 ** relevance.gather(1, order).float() - 1
    discounts = 1.0 / torch.log2(torch.arange(2, order.size(1) + 2, device=scores.device).float())
    dcg = (gains * discounts).sum(-1)
    ideal = relevance.float().sort(dim=-1, descending=True).values[:, :k]
    idcg = ((2**ideal - 1) * discounts[: ideal.size(1)]).sum(-1).clamp(min=1e-8)
    return (dcg / idcg).mean()


class ListNetCriterion:
    def __init__(self, task):
        self.task = task

    def forward(self, model, sample, reduce=True):
        net_input = sample["net_input"]
        scores = model(**net_input)
        loss = listnet_loss(scores, sample["target"], net_input["doc_padding_mask"])
        logging_output = {
            "loss": loss.data,
            "ndcg@10": ndcg_at_k(scores, sample["target"], net_input["doc_padding_mask"]).item(),
            "nsentences": sample["target"].size(0),
            "sample_size": 1,
        }
        return loss, 1, logging_output

    __call__ = forward
