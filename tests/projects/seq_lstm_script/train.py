import argparse

import torch
import torch.nn as nn


class Tagger(nn.Module):
    def __init__(self, input_size, hidden, n_tags):
        super().__init__()
        self.rnn = nn.LSTM(input_size=input_size, hidden_size=hidden, batch_first=True)
        self.out = nn.Linear(hidden, n_tags)

    def forward(self, x):
        return self.out(self.rnn(x)[0])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--input_size", type=int, default=80)
    ap.add_argument("--hidden", type=int, default=256)
    args = ap.parse_args()
    model = Tagger(args.input_size, args.hidden, 12)
    criterion = nn.CrossEntropyLoss(reduction="none")
    opt = torch.optim.Adam(model.parameters())
    for x, y in torch.load("seq.pt"):
        logits = model(x)
        logits.clamp_(min=-10.0, max=10.0)
        loss = criterion(logits.transpose(1, 2), y)
        loss[torch.isnan(loss)] = 0.0
        opt.zero_grad()
        loss.mean().backward()
        _ = torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()


if __name__ == "__main__":
    main()
