import torch
import torch.nn.functional as F


def span_ce(start_logits, end_logits, start_positions, end_positions):
    ignored_index = start_logits.size(1)
    start_positions = start_positions.clamp(0, ignored_index)
    end_positions = end_positions.clamp(0, ignored_index)
    start_logits = torch.nan_to_num(start_logits, nan=0.0, neginf=-1e4)
    end_logits = torch.nan_to_num(end_logits, nan=0.0, neginf=-1e4)
    start_loss = F.cross_entropy(start_logits, start_positions, ignore_index=ignored_index)
    end_loss = F.cross_entropy(end_logits, end_positions, ignore_index=ignored_index)
    return (start_loss + end_loss) / 2


def distill_kl(student_logits, teacher_logits, temperature):
    t = temperature
    p_teacher = F.softmax(teacher_logits / t, dim=-1).clamp(min=1e-12)
    log_p_student = F.log_softmax(student_logits / t, dim=-1)
    return (p_teacher * (p_teacher.log() - log_p_student)).sum(-1).mean() * t * t


def context_only(scores, context_mask):
    return scores.masked_fill(~context_mask[:, None, :], float("-inf"))
