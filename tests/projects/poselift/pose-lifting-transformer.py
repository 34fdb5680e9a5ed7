#!/usr/bin/env python

# # 2D -> 3D pose lifting with a spatio-temporal transformer

# In[1]:


import numpy as np
import torch
import torch.nn as nn
from utils import bone_direction_loss, mpjpe_mm, n_mpjpe, normalize_screen

# In[2]:


class CFG:
    in_features = 34
    n_joints = 17
    d_model = 128
    n_heads = 8
    n_frames = 27
    lr = 4e-4
    epochs = 40
    clip = 1.0
    device = "cuda" if torch.cuda.is_available() else "cpu"


# In[3]:


data = np.load("/kaggle/input/h36m-lifting/data_2d_3d.npz")
X_train = np.nan_to_num(normalize_screen(data["kp2d_train"], 1000, 1002)).astype("float32")
Y_train = data["kp3d_train"].astype("float32")
vis_train = data["visible_train"].astype(bool)
X_train.shape, Y_train.shape  # noqa: B018


# In[4]:


class JointAttention(nn.Module):
    def __init__(self, d, heads):
        super().__init__()
        self.h = heads
        self.scale = (d // heads) ** -0.5
        self.qkv = nn.Linear(d, 3 * d)
        self.proj = nn.Linear(d, d)

    def forward(self, x, visible):
        B, N, C = x.shape
        qkv = self.qkv(x).reshape(B, N, 3, self.h, C // self.h).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        attn = (q @ k.transpose(-2, -1)) * self.scale
        attn = attn.masked_fill(~visible[:, None, None, :], float("-inf"))
        attn = attn.softmax(dim=-1)
        return self.proj((attn @ v).transpose(1, 2).reshape(B, N, C))


class FrameAttention(nn.Module):
    def __init__(self, d, heads):
        super().__init__()
        self.mha = nn.MultiheadAttention(d, heads, batch_first=True)

    def forward(self, x, frame_pad):
        scores_mask = torch.zeros(frame_pad.shape, device=x.device).masked_fill(frame_pad, -1e9)
        return self.mha(x, x, x, key_padding_mask=scores_mask, need_weights=False)[0]


class PoseLifter(nn.Module):
    def __init__(self, in_features, d_model):
        super().__init__()
        self.embed = nn.Linear(in_features // CFG.n_joints, d_model)
        self.joint = JointAttention(d_model, CFG.n_heads)
        self.frame = FrameAttention(d_model * CFG.n_joints, CFG.n_heads)
        self.head = nn.Linear(d_model, 3)

    def forward(self, kp2d, visible, frame_pad):
        B, T, F_ = kp2d.shape
        x = self.embed(kp2d.view(B * T, CFG.n_joints, -1))
        x = x + self.joint(x, visible.view(B * T, CFG.n_joints))
        x = x.view(B, T, -1)
        x = x + self.frame(x, frame_pad)
        return self.head(x.view(B, T, CFG.n_joints, -1))


def get_model(in_features=None):
    d = CFG.in_features
    if in_features:
        d = in_features
    return PoseLifter(d, CFG.d_model).to(CFG.device)


# In[5]:


n_in = X_train.shape[-1] if len(X_train) else None
model = get_model(in_features=n_in)
opt = torch.optim.AdamW(model.parameters(), lr=CFG.lr, weight_decay=0.01)
sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=CFG.epochs)
print(sum(p.numel() for p in model.parameters()) / 1e6, "M params")


# In[6]:


def batches(bs=256):
    idx = np.random.permutation(len(X_train) - CFG.n_frames)
    for i in range(0, len(idx), bs):
        s = idx[i : i + bs, None] + np.arange(CFG.n_frames)
        yield (
            torch.from_numpy(X_train[s]),
            torch.from_numpy(vis_train[s]),
            torch.from_numpy(Y_train[s]),
        )


grad_norms, history = [], []
for epoch in range(CFG.epochs):
    model.train()
    for kp2d, vis, kp3d in batches():
        kp2d, vis, kp3d = kp2d.to(CFG.device), vis.to(CFG.device), kp3d.to(CFG.device)
        frame_pad = torch.zeros(kp2d.shape[:2], dtype=torch.bool, device=CFG.device)
        preds = model(kp2d, vis, frame_pad)
        loss = n_mpjpe(preds, kp3d) + 0.1 * bone_direction_loss(preds, kp3d)
        opt.zero_grad()
        loss.backward()
        grad_norms.append(torch.nn.utils.clip_grad_norm_(model.parameters(), CFG.clip).item())
        opt.step()
        history.append(mpjpe_mm(preds.detach(), kp3d))
    sched.step()
    print(
        f"epoch {epoch} MPJPE {np.mean(history[-50:]):.1f} mm  grad {np.mean(grad_norms[-50:]):.3f}"
    )


# In[7]:


torch.save(model.state_dict(), "poselifter.pt")
