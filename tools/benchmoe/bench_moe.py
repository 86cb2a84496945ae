#!/usr/bin/env python3
"""PyTorch reference for `make bench-moe`: the sdk/ml transformer (pre-norm,
RMSNorm with gain, fused bias-free qkv, RoPE rotate-half, causal attention
scaled by 1/sqrt(d_head), untied head) with either the dense SwiGLU MLP or
Shammie's MoE block (bias-free softmax router, top-k without
renormalisation, dropless SwiGLU experts run on their own tokens only — the
usual loop over experts with index_select/index_add_, as in Hugging Face's
OLMoE — plus the load-balancing and z losses).

Prints one line per model: `torch <model> tok_s=N step_ms=M`.
"""
import argparse
import math
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class RMSNorm(nn.Module):
    def __init__(self, d, eps=1e-6):
        super().__init__()
        self.gain = nn.Parameter(torch.ones(d))
        self.eps = eps

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.gain


def rope(x, cos, sin):
    half = x.shape[-1] // 2
    rot = torch.cat([-x[..., half:], x[..., :half]], -1)
    return x * cos + rot * sin


class Attention(nn.Module):
    def __init__(self, d, heads):
        super().__init__()
        self.h, self.dh = heads, d // heads
        self.qkv = nn.Linear(d, 3 * d, bias=False)
        self.out = nn.Linear(d, d, bias=False)

    def forward(self, x, cos, sin):
        b, s, d = x.shape
        q, k, v = self.qkv(x).view(b, s, 3, self.h, self.dh).unbind(2)
        q, k = rope(q, cos, sin), rope(k, cos, sin)
        q, k, v = (t.transpose(1, 2) for t in (q, k, v))
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        return self.out(y.transpose(1, 2).reshape(b, s, d))


class SwiGLU(nn.Module):
    def __init__(self, d, dff):
        super().__init__()
        self.gate_up = nn.Linear(d, 2 * dff, bias=False)
        self.down = nn.Linear(dff, d, bias=False)

    def forward(self, x):
        g, u = self.gate_up(x).chunk(2, -1)
        return self.down(F.silu(g) * u)


class MoE(nn.Module):
    def __init__(self, d, hidden, experts, k, lb_w, z_w, layers):
        super().__init__()
        self.E, self.k, self.lb_w, self.z_w, self.L = experts, k, lb_w, z_w, layers
        self.router = nn.Linear(d, experts, bias=False)
        self.w_gate = nn.Parameter(torch.randn(experts, d, hidden) / math.sqrt(d))
        self.w_up = nn.Parameter(torch.randn(experts, d, hidden) / math.sqrt(d))
        self.w_down = nn.Parameter(torch.randn(experts, hidden, d) / math.sqrt(hidden))
        self.aux = None

    def forward(self, x):
        shape = x.shape
        x = x.reshape(-1, shape[-1])
        T = x.shape[0]
        logits = self.router(x)
        probs = logits.softmax(-1)
        top_w, top_i = probs.topk(self.k, -1)
        out = torch.zeros_like(x)
        flat_i = top_i.reshape(-1)
        counts = torch.bincount(flat_i, minlength=self.E).to(x.dtype)
        order = flat_i.argsort()
        tok = order // self.k
        start = 0
        for e, c in enumerate(counts.tolist()):
            c = int(c)
            if c == 0:
                continue
            sl = order[start:start + c]
            t = tok[start:start + c]
            start += c
            xe = x.index_select(0, t)
            h = F.silu(xe @ self.w_gate[e]) * (xe @ self.w_up[e])
            ye = (h @ self.w_down[e]) * top_w.reshape(-1)[sl].unsqueeze(-1)
            out.index_add_(0, t, ye)
        lb = self.lb_w / self.L * self.E / (T * self.k) * (counts * probs.mean(0)).sum()
        z = self.z_w / self.L * torch.logsumexp(logits, -1).pow(2).mean()
        self.aux = lb + z
        return out.reshape(shape)


class Model(nn.Module):
    def __init__(self, a):
        super().__init__()
        d = a.d_model
        self.embed = nn.Embedding(256, d)
        self.layers = nn.ModuleList()
        for _ in range(a.layers):
            ff = SwiGLU(d, a.dff) if a.model == "dense" else MoE(d, a.expert_hidden, a.experts, a.top_k, 0.01, 0.001, a.layers)
            self.layers.append(nn.ModuleDict(dict(an=RMSNorm(d), attn=Attention(d, a.heads), fn=RMSNorm(d), ff=ff)))
        self.norm = RMSNorm(d)
        self.head = nn.Linear(d, 256, bias=False)
        dh = d // a.heads
        inv = torch.tensor([10000 ** (-2 * (i % (dh // 2)) / dh) for i in range(dh)])
        ang = torch.arange(a.seq).unsqueeze(1) * inv.unsqueeze(0)
        self.register_buffer("cos", ang.cos().unsqueeze(1))  # [seq, 1, dh]
        self.register_buffer("sin", ang.sin().unsqueeze(1))

    def forward(self, tokens):
        x = self.embed(tokens)
        aux = 0.0
        for l in self.layers:
            x = x + l["attn"](l["an"](x), self.cos, self.sin)
            x = x + l["ff"](l["fn"](x))
            if isinstance(l["ff"], MoE):
                aux = aux + l["ff"].aux
        return self.head(self.norm(x)), aux


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--model", choices=["moe", "dense"], default="moe")
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--d-model", type=int, default=128)
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--seq", type=int, default=64)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--dff", type=int, default=352)
    p.add_argument("--experts", type=int, default=8)
    p.add_argument("--top-k", type=int, default=2)
    p.add_argument("--expert-hidden", type=int, default=176)
    p.add_argument("--steps", type=int, default=30)
    p.add_argument("--warmup", type=int, default=5)
    a = p.parse_args()
    torch.manual_seed(0)
    if a.device == "cpu":
        torch.set_num_threads(a.threads)
    dev = torch.device(a.device)
    m = Model(a).to(dev)
    opt = torch.optim.AdamW(m.parameters(), lr=1e-3, betas=(0.9, 0.95), weight_decay=0.1)
    g = torch.Generator().manual_seed(1)
    data = torch.randint(0, 256, (a.batch, a.seq + 1), generator=g).to(dev)

    def step():
        logits, aux = m(data[:, :-1])
        loss = F.cross_entropy(logits.reshape(-1, 256), data[:, 1:].reshape(-1)) + aux
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(m.parameters(), 1.0)
        opt.step()
        return loss

    for _ in range(a.warmup):
        step()
    if dev.type == "cuda":
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(a.steps):
        loss = step()
    loss.item()
    if dev.type == "cuda":
        torch.cuda.synchronize()
    dt = (time.perf_counter() - t0) / a.steps
    print(f"torch {a.model} tok_s={a.batch * a.seq / dt:.1f} step_ms={dt * 1e3:.2f} loss={loss.item():.4f}")


if __name__ == "__main__":
    main()
