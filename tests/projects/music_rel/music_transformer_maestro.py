#!/usr/bin/env python

# # Music Transformer on MAESTRO (event tokens)

# In[1]:


import lightning as L
import torch
import torch.nn.functional as F
from relattn import MusicTransformer

# In[2]:


fabric = L.Fabric(accelerator="cuda", precision="bf16-mixed")
fabric.launch()
VOCAB = 388
SEQ = 1024
events = torch.load("maestro_events.pt")


# In[3]:


class Windows(torch.utils.data.Dataset):
    def __len__(self):
        return len(events) // SEQ

    def __getitem__(self, i):
        return events[i * SEQ : (i + 1) * SEQ + 1]


loader = fabric.setup_dataloaders(
    torch.utils.data.DataLoader(Windows(), batch_size=8, shuffle=True)
)
model = MusicTransformer(VOCAB, max_len=SEQ)
opt = torch.optim.Adam(model.parameters(), lr=1e-4, betas=(0.9, 0.98))
model, opt = fabric.setup(model, opt)


# In[4]:


for step, seq in enumerate(loader):
    inp, tgt = seq[:, :-1], seq[:, 1:]
    logits = model(inp)
    logits = torch.where(~torch.isfinite(logits), torch.zeros_like(logits), logits)
    loss = F.cross_entropy(logits.reshape(-1, VOCAB), tgt.reshape(-1), label_smoothing=0.1)
    opt.zero_grad()
    fabric.backward(loss)
    fabric.clip_gradients(model, opt, max_norm=1.0)
    opt.step()
    if step % 200 == 0:
        fabric.print(step, loss.item())
    if step == 20000:
        break


# In[5]:


@torch.no_grad()
def sample(model, prime, n=512, top_k=32, temperature=1.0):
    seq = prime
    for _ in range(n):
        logits = model(seq[:, -SEQ:])[:, -1] / temperature
        v, _ = torch.topk(logits, top_k)
        logits[logits < v[:, -1:]] = -float("inf")
        probs = torch.nan_to_num(F.softmax(logits, -1), nan=0.0)
        seq = torch.cat([seq, torch.multinomial(probs, 1)], 1)
    return seq


fabric.print(sample(model, events[None, :64].to(fabric.device)).shape)
