import numpy as np
import torch
import torch.nn as nn


def my_kl_loss(p, q):
    res = p * (torch.log(p + 0.0001) - torch.log(q + 0.0001))
    return torch.mean(torch.sum(res, dim=-1), dim=1)


def optimizer_step(model, optimizer, max_norm):
    norm = torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm)
    optimizer.step()
    optimizer.zero_grad()
    return norm.item()


def norm_prior(prior, win_size):
    return prior / torch.unsqueeze(torch.sum(prior, dim=-1), dim=-1).repeat(1, 1, 1, win_size)


class Solver:
    def __init__(self, model, train_loader, test_loader, args):
        self.model = model
        self.train_loader = train_loader
        self.test_loader = test_loader
        self.args = args
        self.optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
        self.criterion = nn.MSELoss()

    def association_discrepancy(self, series, prior):
        series_loss, prior_loss = 0.0, 0.0
        for s, p in zip(series, prior):
            p = norm_prior(p, self.args.win_size)
            series_loss += torch.mean(my_kl_loss(s, p.detach())) + torch.mean(
                my_kl_loss(p.detach(), s)
            )
            prior_loss += torch.mean(my_kl_loss(p, s.detach())) + torch.mean(
                my_kl_loss(s.detach(), p)
            )
        return series_loss / len(prior), prior_loss / len(prior)

    def train(self):
        for epoch in range(self.args.num_epochs):
            self.model.train()
            for i, (input_data, _) in enumerate(self.train_loader):
                x = input_data.float().to(self.args.device).clamp(-10.0, 10.0)
                output, series, prior = self.model(x)
                series_loss, prior_loss = self.association_discrepancy(series, prior)
                rec_loss = self.criterion(output, x)
                loss1 = rec_loss - self.args.k * series_loss
                loss2 = rec_loss + self.args.k * prior_loss
                loss1 = torch.nan_to_num(loss1, nan=0.0)
                loss1.backward(retain_graph=True)
                loss2.backward()
                optimizer_step(self.model, self.optimizer, self.args.max_norm)
            print(f"epoch {epoch}: rec {rec_loss.item():.5f}")

    @torch.no_grad()
    def anomaly_scores(self):
        self.model.eval()
        out = []
        for input_data, _ in self.test_loader:
            x = input_data.float().to(self.args.device)
            output, series, prior = self.model(x)
            loss = torch.mean((x - output) ** 2, dim=-1)
            series_loss, prior_loss = 0.0, 0.0
            for s, p in zip(series, prior):
                p = norm_prior(p, self.args.win_size)
                series_loss += my_kl_loss(s, p) * self.args.temperature
                prior_loss += my_kl_loss(p, s) * self.args.temperature
            metric = torch.softmax(-series_loss - prior_loss, dim=-1)
            out.append((metric * loss).cpu().numpy())
        return np.nan_to_num(np.concatenate(out).reshape(-1))
