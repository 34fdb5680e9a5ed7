import torch
import torch.nn.functional as F
from modules.model import build_model


class FullFinetuneRecipe:
    def __init__(self, cfg):
        self.cfg = cfg
        self._device = torch.device(cfg.get("device", "cpu"))
        self._clip = cfg["optimizer"].get("clip_grad_norm")

    def setup(self):
        mcfg = self.cfg["model"]
        self._model = build_model(
            input_dim=mcfg["input_dim"],
            hidden_dim=mcfg["hidden_dim"],
        ).to(self._device)
        self._optimizer = torch.optim.AdamW(
            self._model.parameters(), lr=self.cfg["optimizer"]["lr"]
        )
        self._loader = torch.utils.data.DataLoader(torch.load(self.cfg["dataset"]), batch_size=32)

    def _compute_loss(self, logits, labels):
        loss = F.cross_entropy(logits, labels)
        return torch.nan_to_num(loss, nan=0.0, posinf=0.0)

    def _loss_step(self, batch):
        logits = self._model(batch["x"].to(self._device))
        logits = torch.clamp(logits, -30.0, 30.0)
        return F.cross_entropy(logits, batch["y"].to(self._device))

    def train(self):
        for _epoch in range(self.cfg["epochs"]):
            for idx, batch in enumerate(self._loader):
                logits = self._model(batch["x"])
                loss = self._compute_loss(logits, batch["y"]) + 0.1 * self._loss_step(batch)
                loss.backward()
                if self._clip is not None:
                    grad_norm = torch.nn.utils.clip_grad_norm_(
                        self._model.parameters(), max_norm=float(self._clip)
                    )
                    self._log({"grad_norm": grad_norm.item(), "loss": loss.item()}, idx)
                self._optimizer.step()
                self._optimizer.zero_grad(set_to_none=True)

    @torch.no_grad()
    def evaluate(self):
        correct = 0
        for batch in self._loader:
            probs = self._model(batch["x"]).softmax(-1).clamp(1e-6, 1 - 1e-6)
            conf = torch.nan_to_num(probs.max(-1).values)
            correct += (probs.argmax(-1) == batch["y"]).sum().item()
            self._log({"conf": conf.mean().item()}, 0)
        return correct

    def _log(self, metrics, step):
        print(step, metrics)
