#!/usr/bin/env python

# In[1]:


import json

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from config import get_config
from torch.nn.utils.rnn import pack_padded_sequence

CONFIG = get_config()
device = "cuda" if torch.cuda.is_available() else "cpu"


# In[2]:


class Attention(nn.Module):
    def __init__(self, feat_dim, decoder_dim, attention_dim):
        super().__init__()
        self.encoder_att = nn.Linear(feat_dim, attention_dim)
        self.decoder_att = nn.Linear(decoder_dim, attention_dim)
        self.full_att = nn.Linear(attention_dim, 1)

    def forward(self, encoder_out, decoder_hidden):
        att = self.full_att(
            torch.tanh(
                self.encoder_att(encoder_out) + self.decoder_att(decoder_hidden).unsqueeze(1)
            )
        )
        alpha = F.softmax(att.squeeze(2), dim=1)
        return (encoder_out * alpha.unsqueeze(2)).sum(dim=1), alpha


class DecoderWithAttention(nn.Module):
    def __init__(self, feat_dim, attention_dim, embed_dim, decoder_dim, vocab_size, dropout=0.5):
        super().__init__()
        self.attention = Attention(feat_dim, decoder_dim, attention_dim)
        self.embedding = nn.Embedding(vocab_size, embed_dim)
        self.dropout = nn.Dropout(dropout)
        self.decode_step = nn.LSTMCell(embed_dim + feat_dim, decoder_dim)
        self.init_h, self.init_c = (
            nn.Linear(feat_dim, decoder_dim),
            nn.Linear(feat_dim, decoder_dim),
        )
        self.f_beta = nn.Linear(decoder_dim, feat_dim)
        self.fc = nn.Linear(decoder_dim, vocab_size)

    def forward(self, encoder_out, captions, lengths):
        b, n = encoder_out.size(0), encoder_out.size(1)
        mean = encoder_out.mean(dim=1)
        h, c = self.init_h(mean), self.init_c(mean)
        emb = self.embedding(captions)
        steps = (lengths - 1).tolist()
        predictions = torch.zeros(b, max(steps), self.fc.out_features, device=encoder_out.device)
        alphas = torch.zeros(b, max(steps), n, device=encoder_out.device)
        for t in range(max(steps)):
            bt = sum(s > t for s in steps)
            ctx, alpha = self.attention(encoder_out[:bt], h[:bt])
            ctx = torch.sigmoid(self.f_beta(h[:bt])) * ctx
            h, c = self.decode_step(torch.cat([emb[:bt, t], ctx], dim=1), (h[:bt], c[:bt]))
            predictions[:bt, t] = self.fc(self.dropout(h))
            alphas[:bt, t] = alpha
        return predictions, alphas


# In[3]:


def caption_loss(scores, targets, lengths):
    scores = torch.where(torch.isnan(scores), torch.zeros_like(scores), scores)
    scores = pack_padded_sequence(scores, lengths, batch_first=True).data
    targets = pack_padded_sequence(targets, lengths, batch_first=True).data
    return F.cross_entropy(scores, targets)


# In[4]:


vocab = json.load(open(f"{CONFIG.data.root}/wordmap.json"))  # noqa: SIM115
feats = torch.from_numpy(np.load(f"{CONFIG.data.root}/train_feats.npy", mmap_mode="r")[:20000])
caps = torch.from_numpy(np.load(f"{CONFIG.data.root}/train_caps.npy")[:20000]).long()
lens = torch.from_numpy(np.load(f"{CONFIG.data.root}/train_lens.npy")[:20000]).long()
print(feats.shape, caps.shape)

decoder = DecoderWithAttention(
    CONFIG.data.feat_dim,
    CONFIG.model.attention_dim,
    CONFIG.model.embed_dim,
    CONFIG.model.decoder_dim,
    len(vocab),
    CONFIG.model.dropout,
).to(device)
optimizer = torch.optim.Adam(decoder.parameters(), lr=CONFIG.optim.lr)


# In[5]:


history = []
for epoch in range(CONFIG.optim.epochs):
    perm = torch.randperm(len(feats))
    for i in range(0, len(perm), CONFIG.data.batch_size):
        idx = perm[i : i + CONFIG.data.batch_size]
        l, order = lens[idx].sort(descending=True)
        enc, cap = feats[idx][order].to(device).flatten(1, 2), caps[idx][order].to(device)
        scores, alphas = decoder(enc, cap, l)
        loss = caption_loss(scores, cap[:, 1:], (l - 1).tolist())
        loss = loss + CONFIG.optim.alpha_c * ((1.0 - alphas.sum(dim=1)) ** 2).mean()
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(decoder.parameters(), CONFIG.optim.grad_clip)
        optimizer.step()
        history.append(loss.item())
    print(epoch, np.mean(history[-100:]))


# In[6]:


torch.save(decoder.state_dict(), "sat_decoder.pt")
