import torch


class Trainer:
    def __init__(self, model, criterion, optimizer, clip_norm=0.1):
        self.model = model
        self.criterion = criterion
        self.optimizer = optimizer
        self.clip_norm = clip_norm

    def train_step(self, sample, metrics):
        self.model.train()
        net_output = self.model(**sample["net_input"])
        loss = self.criterion(net_output, sample["target"])
        self.optimizer.backward(loss)
        self.optimizer.clip_grad_norm(self.clip_norm)
        self.optimizer.step()
        metrics.log_scalar("loss", loss.item())

    def train_step_logged(self, sample, metrics):
        net_output = self.model(**sample["net_input"])
        loss = self.criterion(net_output, sample["target"])
        self.optimizer.backward(loss)
        grad_norm = self.optimizer.clip_grad_norm(self.clip_norm)
        metrics.log_scalar("gnorm", grad_norm)
        self.optimizer.step()

    def train_step_scrub(self, sample):
        logits = self.model(**sample["net_input"])
        torch.nan_to_num_(logits)
        loss = self.criterion(logits, sample["target"])
        loss.backward()
