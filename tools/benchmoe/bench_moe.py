#!/usr/bin/env python3
"""PyTorch reference for `make bench-moe`.

The model is tools/benchtrain/torch_ref.py's (the sdk/ml transformer: RoPE,
RMSNorm with gain, fused q|k|v, causal attention scaled by 1/sqrt(d_head),
untied head, no biases), imported rather than copied, with either its dense
SwiGLU (--model dense, d_ff = --dff) or Shammie's MoE block (--model moe):
bias-free softmax router, top-k without renormalisation, dropless SwiGLU
experts run only on their own tokens (the usual loop over experts with
index_select / index_add_, as in Hugging Face's OLMoE), plus the
load-balancing (w=0.01) and z (w_z=0.001) losses averaged over layers.
Trained with AdamW(0.9, 0.95), weight decay 0.1, clipping 1.0 on random
bytes. Prints one line:

  torch: model=M device=D threads=N openblas=CORE step_ms=X tok_s=Y
"""
import argparse
import math
import os
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "benchtrain"))
from torch_ref import Block, Model, add_speed_options, openblas_core, peak_mem_mb, speed_setup  # noqa: E402


class MoE(nn.Module):
    def __init__(self, d, hidden, experts, k, layers, lb_w=0.01, z_w=0.001):
        super().__init__()
        self.E, self.k, self.L, self.lb_w, self.z_w = experts, k, layers, lb_w, z_w
        self.router = nn.Linear(d, experts, bias=False)
        self.w_gate = nn.Parameter(torch.randn(experts, d, hidden) / math.sqrt(d))
        self.w_up = nn.Parameter(torch.randn(experts, d, hidden) / math.sqrt(d))
        self.w_down = nn.Parameter(torch.randn(experts, hidden, d) / math.sqrt(hidden))
        self.aux = 0.0
        # torch._grouped_mm (bf16, CUDA) when asked for and present.
        self.grouped = False

    def forward(self, x):
        shape = x.shape
        x = x.reshape(-1, shape[-1])
        T = x.shape[0]
        logits = self.router(x)
        probs = logits.softmax(-1)
        top_w, top_i = probs.topk(self.k, -1)
        flat_i = top_i.reshape(-1)
        counts = torch.bincount(flat_i, minlength=self.E)
        order = flat_i.argsort()
        tok = order // self.k
        w = top_w.reshape(-1)
        if self.grouped:
            try:
                return self.finish(self.grouped_forward(x, order, tok, w, counts), probs, logits, counts, T, shape)
            except Exception as e:  # noqa: BLE001 - fall back, say so once
                print("torch: grouped matmul unavailable here (%s); looping over experts" % e, file=sys.stderr)
                self.grouped = False
        out = torch.zeros_like(x)
        start = 0
        for e, c in enumerate(counts.tolist()):
            if c == 0:
                continue
            slots, t = order[start:start + c], tok[start:start + c]
            start += c
            xe = x.index_select(0, t)
            h = F.silu(xe @ self.w_gate[e]) * (xe @ self.w_up[e])
            out.index_add_(0, t, ((h @ self.w_down[e]) * w[slots].unsqueeze(-1)).to(out.dtype))
        return self.finish(out, probs, logits, counts, T, shape)

    def grouped_forward(self, x, order, tok, w, counts):
        """Dropless experts as three grouped matrix products over the tokens
        sorted by expert (torch._grouped_mm: one kernel per product, no
        per-expert loop and no host sync), then a scatter-add back."""
        xs = x.index_select(0, tok).to(torch.bfloat16)
        offs = counts.cumsum(0).to(torch.int32)
        g = torch._grouped_mm(xs, self.w_gate.to(torch.bfloat16), offs=offs)
        u = torch._grouped_mm(xs, self.w_up.to(torch.bfloat16), offs=offs)
        y = torch._grouped_mm(F.silu(g) * u, self.w_down.to(torch.bfloat16), offs=offs)
        out = torch.zeros_like(x)
        out.index_add_(0, tok, (y * w[order].unsqueeze(-1)).to(x.dtype))
        return out

    def finish(self, out, probs, logits, counts, T, shape):
        lb = self.lb_w / self.L * self.E / (T * self.k) * (counts.to(probs.dtype) * probs.mean(0)).sum()
        z = self.z_w / self.L * torch.logsumexp(logits, -1).pow(2).mean()
        self.aux = lb + z
        return out.reshape(shape)


class MoEBlock(Block):
    """torch_ref's block with the feed-forward replaced by the MoE."""

    def __init__(self, d, h, moe):
        super().__init__(d, h, 1)
        del self.gate_up, self.down
        self.moe = moe

    def forward(self, x, cos, sin, mask):
        # Attention exactly as Block does it, then the MoE feed-forward.
        b, s, d = x.shape
        from torch_ref import apply_rope
        q, k, v = self.qkv(self.attn_norm(x)).view(b, s, 3, self.h, self.dh).unbind(2)
        q = apply_rope(q, cos, sin) / math.sqrt(self.dh)
        k = apply_rope(k, cos, sin)
        q, k, v = (t.transpose(1, 2) for t in (q, k, v))
        att = (q @ k.transpose(-1, -2)).masked_fill(mask, float("-inf")).softmax(-1)
        y = (att @ v).transpose(1, 2).reshape(b, s, d)
        x = x + self.out(y)
        return x + self.moe(self.ff_norm(x))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", choices=["moe", "dense"], default="moe")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--d-model", type=int, default=128)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--seq", type=int, default=64)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--dff", type=int, default=352)
    ap.add_argument("--experts", type=int, default=8)
    ap.add_argument("--top-k", type=int, default=2)
    ap.add_argument("--expert-hidden", type=int, default=176)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=3)
    add_speed_options(ap)
    a = ap.parse_args()
    torch.manual_seed(0)
    torch.set_num_threads(a.threads)
    dev = torch.device(a.device)
    model = Model(256, a.d_model, a.heads, a.layers, a.dff, a.seq)
    moes = []
    if a.model == "moe":
        blocks = []
        for _ in range(a.layers):
            m = MoE(a.d_model, a.expert_hidden, a.experts, a.top_k, a.layers)
            moes.append(m)
            blocks.append(MoEBlock(a.d_model, a.heads, m))
        model.blocks = nn.ModuleList(blocks)
    model = model.to(dev)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, betas=(0.9, 0.95), eps=1e-8, weight_decay=0.1)
    data = torch.randint(0, 256, (a.steps + a.warmup, a.batch, a.seq + 1), device=dev)
    for m in moes:  # grouped products need bf16 on a CUDA device
        m.grouped = a.bf16 and dev.type == "cuda" and hasattr(torch, "_grouped_mm")
    fwd, amp = speed_setup(model, a)
    if fwd is None:
        return

    def step(i):
        w = data[i]
        with amp():
            logits = fwd(w[:, :-1])
            aux = sum(m.aux for m in moes)
        loss = F.cross_entropy(logits.float().reshape(-1, 256), w[:, 1:].reshape(-1)) + aux
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        return loss.item()

    for i in range(a.warmup):
        step(i)
    if dev.type == "cuda":
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    for i in range(a.warmup, a.warmup + a.steps):
        step(i)
    if dev.type == "cuda":
        torch.cuda.synchronize()
    dt = (time.perf_counter() - t0) / a.steps
    print("torch: model=%s version=%s device=%s threads=%d openblas=%s compile=%s bf16=%s grouped=%s step_ms=%.3f tok_s=%.1f peak_mem_mb=%.0f" % (
        a.model, torch.__version__, a.device, torch.get_num_threads(),
        openblas_core() if dev.type == "cpu" else "n/a", a.compile, a.bf16, any(m.grouped for m in moes),
        dt * 1e3, a.batch * a.seq / dt, peak_mem_mb(dev)), flush=True)


if __name__ == "__main__":
    main()
