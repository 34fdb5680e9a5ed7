import logging

import torch
from criterion import ListNetCriterion
from model import ListwiseRanker

logger = logging.getLogger(__name__)


class RankingTask:
    def __init__(self, args, train_data, valid_data):
        self.args = args
        self.datasets = {"train": train_data, "valid": valid_data}

    @classmethod
    def setup_task(cls, args, load):
        train_data, valid_data = load(args.data, "train"), load(args.data, "valid")
        first = train_data[0]
        if first["net_input"]["features"].size(-1) != args.n_features:
            raise ValueError(
                f"{args.data} has {first['net_input']['features'].size(-1)} features, args.n_features={args.n_features}"
            )
        return cls(args, train_data, valid_data)

    def build_model(self, args):
        return ListwiseRanker.build_model(args, self)

    def build_criterion(self, args):
        return ListNetCriterion(self)

    def train_step(self, sample, model, criterion, optimizer, update_num):
        model.train()
        loss, sample_size, logging_output = criterion(model, sample)
        optimizer.backward(loss)
        return loss, sample_size, logging_output

    def valid_step(self, sample, model, criterion):
        model.eval()
        with torch.no_grad():
            return criterion(model, sample)


class Trainer:
    def __init__(self, args, task, model, criterion, optimizer):
        self.args, self.task = args, task
        self.model, self.criterion, self.optimizer = model, criterion, optimizer

    def train_epoch(self, epoch):
        for i, sample in enumerate(self.task.datasets["train"]):
            self.optimizer.zero_grad()
            loss, sample_size, log = self.task.train_step(
                sample, self.model, self.criterion, self.optimizer, i
            )
            self.optimizer.clip_grad_norm(self.args.clip_norm)
            self.optimizer.step()
            if i % self.args.log_interval == 0:
                logger.info(
                    "epoch %d step %d loss %.4f ndcg@10 %.4f", epoch, i, log["loss"], log["ndcg@10"]
                )
