import torch.nn as nn


class MLP(nn.Module):
    def __init__(self, num_features, hidden, n_out):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(num_features, hidden), nn.ReLU(), nn.Linear(hidden, n_out)
        )

    def forward(self, x):
        return self.net(x)
