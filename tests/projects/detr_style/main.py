import torch
from models.criterion import SetCriterion


def train(model, matcher, loader, epochs=50):
    criterion = SetCriterion(num_classes=91)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, weight_decay=1e-4)
    for _epoch in range(epochs):
        for samples, targets in loader:
            outputs = model(samples)
            indices = matcher(outputs, targets)
            loss = criterion(outputs, targets, indices)
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 0.1)
            opt.step()
