import argparse

import torch
from accelerate import Accelerator
from data import TranslationPairs, collate
from losses import smoothed_ce, token_accuracy
from model import SpeechTranslator
from torch.utils.data import DataLoader


def parse():
    p = argparse.ArgumentParser()
    p.add_argument("--manifest", required=True)
    p.add_argument("--vocab", type=int, default=8000)
    p.add_argument("--lr", type=float, default=5e-4)
    p.add_argument("--max-norm", type=float, default=1.0)
    p.add_argument("--accum", type=int, default=4)
    p.add_argument("--epochs", type=int, default=30)
    return p.parse_args()


def main():
    args = parse()
    accelerator = Accelerator(
        gradient_accumulation_steps=args.accum, log_with="tensorboard", project_dir="runs"
    )
    accelerator.init_trackers("st")
    ds = TranslationPairs(args.manifest)
    loader = DataLoader(ds, batch_size=16, shuffle=True, collate_fn=collate)
    model = SpeechTranslator(ds.n_mels, args.vocab)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr)
    model, opt, loader = accelerator.prepare(model, opt, loader)
    step = 0
    for epoch in range(args.epochs):
        for feats, feat_pad, tgt_in, tgt_out in loader:
            with accelerator.accumulate(model):
                logits = model(feats, feat_pad, tgt_in)
                loss = smoothed_ce(logits, tgt_out)
                accelerator.backward(loss)
                if accelerator.sync_gradients:
                    accelerator.clip_grad_norm_(model.parameters(), args.max_norm)
                opt.step()
                opt.zero_grad()
            step += 1
            if step % 50 == 0:
                acc = token_accuracy(logits.detach(), tgt_out)
                accelerator.log({"loss": loss.item(), "acc": acc.item()}, step=step)
    accelerator.end_training()


if __name__ == "__main__":
    main()
