import torch.nn as nn


class TabularEncoder(nn.Module):
    def __init__(self, input_dim, hidden_dim=256, num_classes=5):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(input_dim, hidden_dim), nn.GELU(), nn.Linear(hidden_dim, num_classes)
        )

    def forward(self, x):
        return self.net(x)


def build_model(input_dim, hidden_dim=256, num_classes=5):
    return TabularEncoder(input_dim, hidden_dim, num_classes)
