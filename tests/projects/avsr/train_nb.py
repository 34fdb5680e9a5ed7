#!/usr/bin/env python

# # Audio-visual speech recognition: fine-tune on LRS-style clips

# In[1]:


import torch
from accelerate import Accelerator
from clips import ClipDataset, pad_collate
from torch.utils.data import DataLoader

from avsr import AVSR, ctc_objective

CONFIG = {
    "lip_dim": 512,
    "audio_dim": 80,
    "vocab": 40,
    "lr": 3e-4,
    "max_norm": 5.0,
    "epochs": 20,
}


# In[2]:


accelerator = Accelerator(mixed_precision="bf16", log_with="tensorboard", project_dir="runs")
accelerator.init_trackers("avsr", config=CONFIG)
train_ds = ClipDataset("data/train.jsonl")
loader = DataLoader(train_ds, batch_size=16, shuffle=True, collate_fn=pad_collate)
feats, lips, targets, in_lens, tgt_lens = next(iter(loader))
assert feats.shape[-1] == CONFIG["audio_dim"], feats.shape


# In[3]:


model = AVSR(CONFIG["lip_dim"], CONFIG["audio_dim"], CONFIG["vocab"])
opt = torch.optim.AdamW(model.parameters(), lr=CONFIG["lr"])
model, opt, loader = accelerator.prepare(model, opt, loader)


# In[4]:


step = 0
for epoch in range(CONFIG["epochs"]):
    for feats, lips, targets, in_lens, tgt_lens in loader:
        log_probs = model(feats, lips)
        loss = ctc_objective(log_probs, targets, in_lens, tgt_lens)
        accelerator.backward(loss)
        accelerator.clip_grad_norm_(model.parameters(), CONFIG["max_norm"])
        opt.step()
        opt.zero_grad()
        if step % 100 == 0:
            accelerator.log({"loss": loss.item()}, step=step)
        step += 1


# In[5]:


accelerator.end_training()
accelerator.save_model(model, "checkpoints/avsr")
