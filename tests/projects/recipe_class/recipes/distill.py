import torch
import torch.nn.functional as F
from modules.model import build_model


class DistillRecipe:
    def __init__(self, cfg):
        self.cfg = cfg

    def setup(self):
        self._loader = torch.utils.data.DataLoader(torch.load(self.cfg["dataset"]), batch_size=32)
        sample = next(iter(self._loader))
        width = self.cfg["model"]["input_dim"]
        assert sample["x"].shape[-1] == width, "feature width differs from the config"
        self._student = build_model(input_dim=width, hidden_dim=64)
        self._teacher = build_model(input_dim=width)
        self._opt = torch.optim.AdamW(self._student.parameters(), lr=1e-4)

    def kd_loss(self, student_logits, teacher_logits, t=2.0):
        s = F.log_softmax(student_logits / t, -1)
        p = F.softmax(teacher_logits / t, -1).clamp(min=1e-8)
        return F.kl_div(s, p, reduction="batchmean") * t * t

    def train(self):
        for batch in self._loader:
            with torch.no_grad():
                teacher_logits = self._teacher(batch["x"])
            loss = self.kd_loss(self._student(batch["x"]), teacher_logits)
            loss.backward()
            norm = torch.nn.utils.clip_grad_norm_(self._student.parameters(), 1.0)
            if not torch.isfinite(norm):
                self._opt.zero_grad()
                continue
            self._opt.step()
            self._opt.zero_grad()
