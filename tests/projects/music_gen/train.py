import argparse
import logging

import torch
from model import MusicTransformer
from utils import clip_and_step, smoothed_nll

log = logging.getLogger("music")


def parse():
    p = argparse.ArgumentParser()
    p.add_argument("--data", default="maestro_tokens.pt")
    p.add_argument("--vocab-size", type=int, default=388)
    p.add_argument("--feat-dim", type=int, default=4)
    p.add_argument("--d-model", type=int, default=512)
    p.add_argument("--heads", type=int, default=8)
    p.add_argument("--layers", type=int, default=6)
    p.add_argument("--max-len", type=int, default=1024)
    p.add_argument("--lr", type=float, default=3e-4)
    p.add_argument("--clip", type=float, default=1.0)
    p.add_argument("--epochs", type=int, default=20)
    return p.parse_args()


def train_epoch(model, loader, optimizer, args):
    model.train()
    for tokens, expr, bar_emb, note_in_bar in loader:
        expr = torch.nan_to_num(expr, nan=0.0)
        logits = model(tokens[:, :-1], expr[:, :-1], bar_emb, note_in_bar[:, :, :-1])
        loss = smoothed_nll(logits.reshape(-1, logits.size(-1)), tokens[:, 1:].reshape(-1))
        loss.backward()
        clip_and_step(model, optimizer, args.clip)


def finetune_step(model, batch, optimizer, args, step):
    tokens, expr, bar_emb, note_in_bar = batch
    logits = model(tokens[:, :-1], expr[:, :-1], bar_emb, note_in_bar[:, :, :-1])
    loss = smoothed_nll(logits.reshape(-1, logits.size(-1)), tokens[:, 1:].reshape(-1))
    loss.backward()
    norm = clip_and_step(model, optimizer, args.clip)
    log.info("step=%d loss=%.4f grad_norm=%.3f", step, loss.item(), norm)


def main():
    args = parse()
    data = torch.load(args.data)
    loader = torch.utils.data.DataLoader(data, batch_size=16, shuffle=True)
    model = MusicTransformer(
        args.vocab_size, args.feat_dim, args.d_model, args.heads, args.layers, args.max_len
    )
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr)
    for epoch in range(args.epochs):
        train_epoch(model, loader, optimizer, args)
        log.info("epoch %d done", epoch)


if __name__ == "__main__":
    main()
