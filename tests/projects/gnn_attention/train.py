import torch
import torch.nn.functional as F
from layers import GNN


def run(dataset, epochs=200):
    data = dataset[0]
    model = GNN(n_features=dataset.num_features, n_classes=dataset.num_classes)
    opt = torch.optim.Adam(model.parameters(), lr=5e-3, weight_decay=5e-4)
    for _epoch in range(epochs):
        out = model(data.x, data.adj)
        loss = F.cross_entropy(out[data.train_mask], data.y[data.train_mask])
        opt.zero_grad()
        loss.backward()
        opt.step()
