import logging

import torch
from datasets_quickdraw import QuickDrawStrokes, pad_collate
from sketchnet import SketchFormer, smoothed_ce
from torch.utils.data import DataLoader

logging.basicConfig(level=logging.INFO)
log = logging.getLogger("sketch")


def run(epochs=20, batch_size=128, lr=2e-4, max_norm=1.0):
    ds = QuickDrawStrokes("data/quickdraw", split="train")
    loader = DataLoader(ds, batch_size=batch_size, shuffle=True, collate_fn=pad_collate)
    model = SketchFormer().cuda()
    opt = torch.optim.AdamW(model.parameters(), lr=lr)
    for epoch in range(epochs):
        for i, (points, pt_pad, stroke_pad, y) in enumerate(loader):
            logits = model(points.cuda(), pt_pad.cuda(), stroke_pad.cuda())
            loss = smoothed_ce(logits, y.cuda())
            opt.zero_grad()
            loss.backward()
            gnorm = torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm)
            if gnorm > 50 * max_norm:
                log.warning("exploding gradients at %d: %.1f", i, gnorm)
            opt.step()
        log.info("epoch %d loss %.4f", epoch, loss.item())


if __name__ == "__main__":
    run()
