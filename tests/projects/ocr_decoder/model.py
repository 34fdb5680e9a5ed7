import torch
import torch.nn as nn
import torch.nn.functional as F


class ConvEncoder(nn.Module):
    def __init__(self, in_channels, d_model):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(in_channels, 64, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(64, d_model, 3, padding=1),
            nn.ReLU(),
            nn.AdaptiveAvgPool2d((1, None)),
        )

    def forward(self, images):
        f = self.net(images).squeeze(2)
        return f.transpose(1, 2)


class LuongAttention(nn.Module):
    def __init__(self, d_model):
        super().__init__()
        self.query = nn.Linear(d_model, d_model)

    def forward(self, dec_h, memory, memory_pad):
        query = self.query(dec_h)
        energy = torch.bmm(query, memory.transpose(1, 2))
        energy = energy.masked_fill(memory_pad[:, None, :], torch.finfo(energy.dtype).min)
        attn = F.softmax(energy, dim=-1)
        return torch.bmm(attn, memory), attn


class OCRModel(nn.Module):
    def __init__(self, in_channels, d_model, n_heads, vocab_size, max_len):
        super().__init__()
        self.n_heads = n_heads
        self.encoder = ConvEncoder(in_channels, d_model)
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.embed = nn.Embedding(vocab_size, d_model)
        self.rnn = nn.GRU(d_model, d_model, batch_first=True)
        self.attn = LuongAttention(d_model)
        self.out = nn.Linear(2 * d_model, vocab_size)

    def encode(self, images):
        mem = self.encoder(images)
        b, n, c = mem.shape
        q, k, v = (
            self.qkv(mem).view(b, n, 3, self.n_heads, c // self.n_heads).permute(2, 0, 3, 1, 4)
        )
        ctx = F.scaled_dot_product_attention(q, k, v)
        return mem + ctx.transpose(1, 2).reshape(b, n, c)

    def forward(self, images, tgt_in, memory_pad):
        memory = self.encode(images)
        dec_h, _ = self.rnn(self.embed(tgt_in))
        ctx, _ = self.attn(dec_h, memory, memory_pad)
        return self.out(torch.cat([dec_h, ctx], dim=-1))
