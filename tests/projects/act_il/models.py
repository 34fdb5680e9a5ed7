import torch
import torch.nn as nn
import torch.nn.functional as F
from utils.misc import attend


class MHA(nn.Module):
    def __init__(self, d, heads):
        super().__init__()
        self.h = heads
        self.q, self.k, self.v, self.o = (nn.Linear(d, d) for _ in range(4))

    def split(self, x):
        b, n, d = x.shape
        return x.view(b, n, self.h, d // self.h).transpose(1, 2)

    def forward(self, x, mem, pad):
        out = attend(self.split(self.q(x)), self.split(self.k(mem)), self.split(self.v(mem)), pad)
        return self.o(out.transpose(1, 2).flatten(2))


class DETRVAE(nn.Module):
    def __init__(self, state_dim, action_dim, d, heads, chunk, latent=32):
        super().__init__()
        self.chunk = chunk
        self.cls = nn.Parameter(torch.zeros(1, 1, d))
        self.qpos_in = nn.Linear(state_dim, d)
        self.act_in = nn.Linear(action_dim, d)
        self.enc = MHA(d, heads)
        self.to_latent = nn.Linear(d, 2 * latent)
        self.latent_out = nn.Linear(latent, d)
        self.queries = nn.Parameter(torch.randn(1, chunk, d) * 0.02)
        self.dec = MHA(d, heads)
        self.act_pool = MHA(d, heads)
        self.head = nn.Linear(d, action_dim)

    def forward(self, qpos, img_feat, actions, is_pad):
        b = qpos.shape[0]
        tokens = torch.cat(
            [self.cls.expand(b, -1, -1), self.qpos_in(qpos)[:, None], self.act_in(actions)], 1
        )
        enc_pad = F.pad(is_pad, (2, 0), value=False)
        h = self.enc(tokens[:, :1], tokens, enc_pad)[:, 0]
        mu, logvar = self.to_latent(h).chunk(2, -1)
        z = mu + torch.randn_like(mu) * (0.5 * logvar).exp()
        mem = torch.cat([self.latent_out(z)[:, None], self.qpos_in(qpos)[:, None], img_feat], 1)
        mem_pad = torch.zeros(b, mem.shape[1], dtype=torch.bool, device=mem.device)
        out = self.dec(self.queries.expand(b, -1, -1), mem, mem_pad)
        acts = self.act_in(actions)
        out = out + self.act_pool(out, acts, is_pad)
        return self.head(out), mu, logvar


def build_ACT_model(args):
    return DETRVAE(args.state_dim, args.action_dim, args.hidden_dim, args.nheads, args.chunk_size)
