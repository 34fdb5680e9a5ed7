import torch
from fnlib.layers import dense, multi_head, multi_head_noscale
from fnlib.losses import plain_mse, safe_mse


def init_params(key_dim, num_heads, out_dim=1):
    def lin(i, o):
        return {
            "kernel": torch.randn(i, o, requires_grad=True) * i**-0.5,
            "bias": torch.zeros(o, requires_grad=True),
        }

    return {
        "attn": {
            "q": lin(key_dim, key_dim),
            "k": lin(key_dim, key_dim),
            "v": lin(key_dim, key_dim),
            "o": lin(key_dim, key_dim),
        },
        "head": lin(key_dim, out_dim),
        "num_heads": num_heads,
    }


def apply_fn(params, x, mask=None):
    h = multi_head(params["attn"], x, params["num_heads"], mask) + multi_head_noscale(
        params["attn"], x, params["num_heads"]
    )
    return dense(params["head"], h.mean(1))


def loss_fn(params, batch):
    preds = apply_fn(params, batch["x"], batch.get("mask"))
    return safe_mse(preds.squeeze(-1), batch["y"])


def eval_fn(params, batch):
    preds = apply_fn(params, batch["x"])
    err = torch.nan_to_num(preds.squeeze(-1) - batch["y"])
    return {"mse": plain_mse(err, torch.zeros_like(err)).item()}


def main(data, steps=1000, lr=1e-3):
    params = init_params(key_dim=data[0]["x"].shape[-1], num_heads=4)
    leaves = [t for d in params["attn"].values() for t in d.values()] + list(
        params["head"].values()
    )
    opt = torch.optim.Adam(leaves, lr=lr)
    for step in range(steps):
        batch = data[step % len(data)]
        loss = loss_fn(params, batch)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % 100 == 0:
            print(eval_fn(params, batch))
