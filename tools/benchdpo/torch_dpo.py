#!/usr/bin/env python3
"""PyTorch reference for `make bench-dpo`: the bench-train transformer
(tools/benchtrain/torch_ref.py's Model) taking one DPO step per batch of B
preference pairs: chosen and rejected rows (seq tokens each; prompt seq/2,
replies the rest) stacked into one forward pass, summed reply log-probs,
standard DPO loss (beta 0.1) against fixed reference log-probs, AdamW and
global-norm clipping. Prints one line:

  torch: device=D threads=N openblas=CORE step_ms=X tok_s=Y
"""
import argparse
import os
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "benchtrain"))
from torch_ref import Model, openblas_core  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--d-model", type=int, default=128)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--seq", type=int, default=64)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--vocab", type=int, default=256)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--beta", type=float, default=0.1)
    a = ap.parse_args()
    torch.manual_seed(0)
    torch.set_num_threads(a.threads)
    dff = (8 * a.d_model // 3 + 31) // 32 * 32
    dev = torch.device(a.device)
    model = Model(a.vocab, a.d_model, a.heads, a.layers, dff, a.seq).to(dev)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, betas=(0.9, 0.95), eps=1e-8, weight_decay=0.1)
    n = a.steps + a.warmup
    rows = 2 * a.batch
    data = torch.randint(0, a.vocab - 1, (n, rows, a.seq), device=dev)
    mask = torch.zeros(rows, a.seq, device=dev)
    mask[:, a.seq // 2:] = 1  # replies (and EOS) are scored
    ref = torch.full((rows,), -5.5 * (a.seq - a.seq // 2), device=dev)

    def step(i):
        tok = data[i]
        logits = model(tok[:, :-1])
        lp = torch.gather(F.log_softmax(logits, -1), 2, tok[:, 1:, None]).squeeze(2)
        seq_lp = (lp * mask[:, 1:]).sum(-1)
        r = seq_lp - ref
        margin = a.beta * (r[: a.batch] - r[a.batch:])
        loss = -F.logsigmoid(margin).mean()
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
    for i in range(a.warmup, n):
        step(i)
    if dev.type == "cuda":
        torch.cuda.synchronize()
    dt = (time.perf_counter() - t0) / a.steps
    print("torch: version=%s device=%s threads=%d openblas=%s step_ms=%.3f tok_s=%.1f" % (
        torch.__version__, a.device, torch.get_num_threads(),
        openblas_core() if dev.type == "cpu" else "n/a", dt * 1e3, rows * a.seq / dt), flush=True)


if __name__ == "__main__":
    main()
