import math

import torch
import torch.nn as nn
import torch.nn.functional as F


class CausalSelfAttention(nn.Module):
    def __init__(self, n_embd, n_head, block_size, pdrop=0.1):
        super().__init__()
        self.n_head = n_head
        self.key = nn.Linear(n_embd, n_embd)
        self.query = nn.Linear(n_embd, n_embd)
        self.value = nn.Linear(n_embd, n_embd)
        self.attn_drop = nn.Dropout(pdrop)
        self.proj = nn.Linear(n_embd, n_embd)
        self.register_buffer(
            "mask",
            torch.tril(torch.ones(block_size, block_size)).view(1, 1, block_size, block_size),
        )

    def forward(self, x, attention_mask=None):
        B, T, C = x.size()
        k = self.key(x).view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
        q = self.query(x).view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
        v = self.value(x).view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(k.size(-1)))
        att = att.masked_fill(self.mask[:, :, :T, :T] == 0, float("-inf"))
        if attention_mask is not None:
            # trajectories are left-padded: never attend to a padded timestep
            att = att.masked_fill(attention_mask[:, None, None, :] == 0, float("-inf"))
        att = F.softmax(att, dim=-1)
        att = self.attn_drop(att)
        y = (att @ v).transpose(1, 2).contiguous().view(B, T, C)
        return self.proj(y)


class Block(nn.Module):
    def __init__(self, n_embd, n_head, block_size):
        super().__init__()
        self.ln1 = nn.LayerNorm(n_embd)
        self.ln2 = nn.LayerNorm(n_embd)
        self.attn = CausalSelfAttention(n_embd, n_head, block_size)
        self.mlp = nn.Sequential(
            nn.Linear(n_embd, 4 * n_embd), nn.GELU(), nn.Linear(4 * n_embd, n_embd)
        )

    def forward(self, x, attention_mask=None):
        x = x + self.attn(self.ln1(x), attention_mask)
        return x + self.mlp(self.ln2(x))


def attend(query, key, value):
    w = torch.softmax(torch.bmm(query, key.transpose(1, 2)), dim=-1)
    return torch.bmm(w, value)


class ReturnConditioner(nn.Module):
    """Cross-attend from the return-to-go embedding over the state history."""

    def __init__(self, n_embd):
        super().__init__()
        self.q = nn.Linear(n_embd, n_embd)
        self.k = nn.Linear(n_embd, n_embd)
        self.v = nn.Linear(n_embd, n_embd)

    def forward(self, rtg_emb, states_emb):
        return attend(self.q(rtg_emb), self.k(states_emb), self.v(states_emb))


class DecisionTransformer(nn.Module):
    def __init__(
        self, state_dim, act_dim, hidden_size, max_length=20, max_ep_len=1000, n_layer=3, n_head=1
    ):
        super().__init__()
        self.state_dim = state_dim
        self.act_dim = act_dim
        self.max_length = max_length
        self.embed_timestep = nn.Embedding(max_ep_len, hidden_size)
        self.embed_return = nn.Linear(1, hidden_size)
        self.embed_state = nn.Linear(state_dim, hidden_size)
        self.embed_action = nn.Linear(act_dim, hidden_size)
        self.embed_ln = nn.LayerNorm(hidden_size)
        self.blocks = nn.ModuleList(
            Block(hidden_size, n_head, 3 * max_length) for _ in range(n_layer)
        )
        self.condition = ReturnConditioner(hidden_size)
        self.predict_action = nn.Sequential(nn.Linear(hidden_size, act_dim), nn.Tanh())

    def forward(self, states, actions, returns_to_go, timesteps, attention_mask=None):
        B, T = states.shape[0], states.shape[1]
        time_emb = self.embed_timestep(timesteps)
        s = self.embed_state(states) + time_emb
        a = self.embed_action(actions) + time_emb
        r = self.embed_return(returns_to_go) + time_emb
        s = s + self.condition(r, s)
        x = torch.stack((r, s, a), dim=1).permute(0, 2, 1, 3).reshape(B, 3 * T, -1)
        x = self.embed_ln(x)
        if attention_mask is not None:
            attention_mask = (
                torch.stack((attention_mask,) * 3, dim=1).permute(0, 2, 1).reshape(B, 3 * T)
            )
        for block in self.blocks:
            x = block(x, attention_mask)
        x = x.reshape(B, T, 3, -1).permute(0, 2, 1, 3)
        return self.predict_action(x[:, 1])

    @torch.no_grad()
    def get_action(self, states, actions, returns_to_go, timesteps):
        states = states.reshape(1, -1, self.state_dim)[:, -self.max_length :]
        actions = actions.reshape(1, -1, self.act_dim)[:, -self.max_length :]
        returns_to_go = returns_to_go.reshape(1, -1, 1)[:, -self.max_length :]
        timesteps = timesteps.reshape(1, -1)[:, -self.max_length :]
        return self.forward(states, actions, returns_to_go, timesteps)[0, -1]
