import ops
import torch
import torch.nn.functional as F
from model import PointTracker

H, W = 256, 256
device = "cuda"
clips = torch.load("kubric_single_point.pt")
loader = torch.utils.data.DataLoader(clips, batch_size=4, shuffle=True, num_workers=4)
model = PointTracker().to(device)
opt = torch.optim.AdamW(model.parameters(), lr=5e-4, weight_decay=1e-4)
sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, 50_000)

step = 0
for epoch in range(100):
    for batch in loader:
        video = batch["video"].to(device)
        gt = torch.nan_to_num(batch["tracks"].to(device), nan=0.0)
        vis = batch["visible"].to(device)
        preds, occ_logits = model(
            video,
            gt[:, 0],
            batch["query_t"].to(device),
            batch["support_xy"].to(device),
            batch["support_vis"].to(device),
        )
        pred_px = ops.clip_to_frame(preds, H, W)
        pos_loss = (ops.huber(pred_px, gt) * vis).sum() / vis.sum().clamp(min=1)
        occ_loss = F.binary_cross_entropy_with_logits(occ_logits, (~vis.bool()).float())
        loss = pos_loss + occ_loss
        opt.zero_grad(set_to_none=True)
        loss.backward()
        grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        if step % 50 == 0:
            print(
                f"step {step} pos {pos_loss.item():.3f} occ {occ_loss.item():.3f} gnorm {grad_norm.item():.2f}"
            )
        step += 1
