import torch
import torch.nn.functional as F


def regression_loss(preds, target):
    preds = torch.nan_to_num(preds, nan=0.0)
    return F.l1_loss(preds, target)


def emotion_loss(logits, labels):
    logits = logits.clamp(-15.0, 15.0)
    return F.binary_cross_entropy_with_logits(logits, labels)


def consistency_loss(logits, sentiment):
    probs = torch.sigmoid(logits).clamp(1e-6, 1 - 1e-6)
    polarity = (sentiment > 0).float()[:, None]
    return -(polarity * probs.log() + (1 - polarity) * (1 - probs).log()).mean()


def combine_losses(outputs, batch, weights):
    terms = {
        "reg": regression_loss(outputs["sentiment"], batch["sentiment"]),
        "cls": emotion_loss(outputs["emotion"], batch["emotions"]),
        "cons": consistency_loss(outputs["emotion"], batch["sentiment"]),
    }
    total = sum(weights[k] * v for k, v in terms.items())
    return total, {k: v.detach() for k, v in terms.items()}
