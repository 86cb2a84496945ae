#!/usr/bin/env python3
"""PyTorch reference for `make bench-train`: the sdk/ml transformer (token
embedding, RoPE rotate-half, RMSNorm with gain, fused q|k|v projection, causal
MHA scaled by 1/sqrt(d_head), fused SwiGLU gate|up, untied head, no biases),
trained with AdamW + global-norm clipping on random bytes. Prints one line:

  torch: device=D threads=N openblas=CORE compile=M bf16=B step_ms=X tok_s=Y peak_mem_mb=P
"""
import argparse
import ctypes
import math
import os
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


def openblas_core():
    """Which kernel OpenBLAS picked (it decides at load time from the CPU,
    unless OPENBLAS_CORETYPE forces one)."""
    try:
        with open("/proc/self/maps") as f:
            libs = {l.split()[-1] for l in f if "openblas" in l and l.rstrip().endswith((".so", ".so.0"))}
        for path in sorted(libs):
            lib = ctypes.CDLL(path)
            lib.openblas_get_corename.restype = ctypes.c_char_p
            lib.openblas_get_config.restype = ctypes.c_char_p
            return "%s (%s; %s)" % (lib.openblas_get_corename().decode(), lib.openblas_get_config().decode().strip(), path)
    except Exception as e:  # noqa: BLE001 - report, don't fail the bench
        return "unknown (%s)" % e
    return "none loaded"


def add_speed_options(ap):
    """Options the GPU benchmark (tools/benchgpu) adds to every reference:
    --compile none|default|max-autotune-no-cudagraphs|... (torch.compile of
    the model; a torch without torch.compile prints "compile unavailable" and
    no figure) and --bf16 (autocast: bf16 matrix products, f32 master weights
    and optimizer state, as the kit's precision = "bfloat16")."""
    ap.add_argument("--compile", default="none", help="torch.compile mode, or none (eager)")
    ap.add_argument("--bf16", action="store_true", help="autocast to bfloat16 (f32 master weights)")


def speed_setup(model, a):
    """The model callable and autocast context for a's options, or None
    when torch.compile was asked for and this torch has none."""
    import contextlib
    fwd = model
    if a.compile != "none":
        if not hasattr(torch, "compile"):
            print("torch: compile unavailable (torch %s has no torch.compile); mode %s skipped" % (torch.__version__, a.compile), flush=True)
            return None, None
        fwd = torch.compile(model) if a.compile == "default" else torch.compile(model, mode=a.compile)
    dev = next(model.parameters()).device
    amp = (lambda: torch.autocast(dev.type, dtype=torch.bfloat16)) if a.bf16 else contextlib.nullcontext
    return fwd, amp


def peak_mem_mb(dev):
    """Peak memory of the run: the CUDA caching allocator's high-water mark,
    or the process's max RSS on the CPU."""
    if dev.type == "cuda":
        return torch.cuda.max_memory_allocated() / 2**20
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class RMSNorm(nn.Module):
    def __init__(self, d, eps=1e-6):
        super().__init__()
        self.gain = nn.Parameter(torch.ones(d))
        self.eps = eps

    def forward(self, x):
        return x / torch.sqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.gain


def rope_tables(seq, dh, base, device):
    half = dh // 2
    inv = base ** (-2.0 * torch.arange(half, dtype=torch.float32, device=device) / dh)
    inv = torch.cat([inv, inv])
    ang = torch.arange(seq, dtype=torch.float32, device=device)[:, None] * inv[None, :]
    return ang.cos(), ang.sin()


def apply_rope(x, cos, sin):  # x [B, S, H, Dh]
    half = x.shape[-1] // 2
    rot = torch.cat([-x[..., half:], x[..., :half]], -1)
    return x * cos[None, :, None, :] + rot * sin[None, :, None, :]


class Block(nn.Module):
    def __init__(self, d, h, dff):
        super().__init__()
        self.h, self.dh, self.dff = h, d // h, dff
        self.attn_norm, self.ff_norm = RMSNorm(d), RMSNorm(d)
        self.qkv = nn.Linear(d, 3 * d, bias=False)
        self.out = nn.Linear(d, d, bias=False)
        self.gate_up = nn.Linear(d, 2 * dff, bias=False)
        self.down = nn.Linear(dff, d, bias=False)

    def forward(self, x, cos, sin, mask):
        b, s, d = x.shape
        q, k, v = self.qkv(self.attn_norm(x)).view(b, s, 3, self.h, self.dh).unbind(2)
        q = apply_rope(q, cos, sin) / math.sqrt(self.dh)
        k = apply_rope(k, cos, sin)
        q, k, v = (t.transpose(1, 2) for t in (q, k, v))  # [B, H, S, Dh]
        att = (q @ k.transpose(-1, -2)).masked_fill(mask, float("-inf")).softmax(-1)
        y = (att @ v).transpose(1, 2).reshape(b, s, d)
        x = x + self.out(y)
        gate, up = self.gate_up(self.ff_norm(x)).split(self.dff, -1)
        return x + self.down(F.silu(gate) * up)


class Model(nn.Module):
    def __init__(self, vocab, d, h, layers, dff, seq, base=10000.0):
        super().__init__()
        self.embed = nn.Embedding(vocab, d)
        self.blocks = nn.ModuleList(Block(d, h, dff) for _ in range(layers))
        self.norm = RMSNorm(d)
        self.head = nn.Linear(d, vocab, bias=False)
        self.seq, self.dh, self.base = seq, d // h, base

    def forward(self, tokens):
        s = tokens.shape[1]
        cos, sin = rope_tables(s, self.dh, self.base, tokens.device)
        mask = torch.triu(torch.ones(s, s, dtype=torch.bool, device=tokens.device), 1)
        x = self.embed(tokens)
        for blk in self.blocks:
            x = blk(x, cos, sin, mask)
        return self.head(self.norm(x))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--d-model", type=int, default=128)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--d-ff", type=int, default=0)
    ap.add_argument("--seq", type=int, default=64)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--vocab", type=int, default=256)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--device", default="cpu")
    add_speed_options(ap)
    a = ap.parse_args()
    torch.manual_seed(0)
    torch.set_num_threads(a.threads)
    dff = a.d_ff or (8 * a.d_model // 3 + 31) // 32 * 32
    dev = torch.device(a.device)
    model = Model(a.vocab, a.d_model, a.heads, a.layers, dff, a.seq).to(dev)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, betas=(0.9, 0.95), eps=1e-8, weight_decay=0.1)
    data = torch.randint(0, a.vocab, (a.steps + a.warmup, a.batch, a.seq + 1), device=dev)
    fwd, amp = speed_setup(model, a)
    if fwd is None:
        return

    def step(i):
        w = data[i]
        with amp():
            logits = fwd(w[:, :-1])
        loss = F.cross_entropy(logits.float().reshape(-1, a.vocab), w[:, 1:].reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        return loss.item()  # syncs, like the Go side reading its loss

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
    print("torch: version=%s device=%s threads=%d openblas=%s compile=%s bf16=%s step_ms=%.3f tok_s=%.1f peak_mem_mb=%.0f" % (
        torch.__version__, a.device, torch.get_num_threads(),
        openblas_core() if dev.type == "cpu" else "n/a", a.compile, a.bf16, dt * 1e3, a.batch * a.seq / dt,
        peak_mem_mb(dev)), flush=True)


if __name__ == "__main__":
    main()
