import torch
import torch.nn.functional as F
import yaml
from lib.nn import Net

DEFAULTS = dict(d_in=16, d=256, depth=4, lr=3e-4, bs=64, ep=20, clip=1.0)


def main(path="cfg.yaml"):
    with open(path) as fh:
        C = {**DEFAULTS, **yaml.safe_load(fh)}
    ds = torch.load(C["data"])
    x0 = ds[0][0]
    net = Net(x0.shape[-1], C["d"], C["depth"])
    opt = torch.optim.Adam(net.parameters(), lr=C["lr"])
    dl = torch.utils.data.DataLoader(ds, batch_size=C["bs"], shuffle=True)
    for _ep in range(C["ep"]):
        for x, c, m, y in dl:
            p = net(x, c, m)
            l = F.cross_entropy(p, y)
            opt.zero_grad()
            l.backward()
            torch.nn.utils.clip_grad_norm_(net.parameters(), C["clip"])
            opt.step()
