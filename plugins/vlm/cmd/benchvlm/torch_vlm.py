#!/usr/bin/env python3
"""PyTorch reference for `make bench-vlm`: the vlm plugin's model — a ViT
(patch embedding, learned absolute positions, the sdk/ml block without RoPE
and without a causal mask), the connector (features = two ViT layers
concatenated, pad / partial-pad embeddings, each window's fixed 2-D grid
position, 2x2 attention pooling with the
window mean as query, SwiGLU projector) and the sdk/ml decoder LM reading
the image tokens at the <im_patch> slots — taking AdamW steps (ViT lr x0.5,
connector x2, global-norm clipping) on the batch benchvlm wrote (a
safetensors file, read here with the standard library). Prints one line:

  torch: device=D threads=N openblas=CORE step_ms=X tok_s=Y
"""
import argparse
import json
import math
import os
import struct
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "..", "tools", "benchtrain"))
from torch_ref import Block, RMSNorm, Model, rope_tables, openblas_core  # noqa: E402

DTYPES = {"F32": torch.float32, "I32": torch.int32, "U8": torch.uint8}


def read_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, e in header.items():
        if name == "__metadata__":
            continue
        a, b = e["data_offsets"]
        t = torch.frombuffer(bytearray(data[a:b]), dtype=DTYPES[e["dtype"]])
        out[name] = t.reshape(e["shape"])
    return out


class ViTBlock(Block):
    """The sdk/ml block, bidirectional, positions added to the input."""

    def forward(self, x):
        b, s, d = x.shape
        q, k, v = self.qkv(self.attn_norm(x)).view(b, s, 3, self.h, self.dh).unbind(2)
        q, k, v = (t.transpose(1, 2) for t in (q, k, v))
        att = ((q / math.sqrt(self.dh)) @ k.transpose(-1, -2)).softmax(-1)
        y = (att @ v).transpose(1, 2).reshape(b, s, d)
        x = x + self.out(y)
        gate, up = self.gate_up(self.ff_norm(x)).split(self.dff, -1)
        return x + self.down(F.silu(gate) * up)


def dff_of(d):
    return (8 * d // 3 + 31) // 32 * 32


class VLM(nn.Module):
    def __init__(self, a):
        super().__init__()
        n = a.crop // a.patch
        self.a, self.n = a, n
        self.patch = nn.Linear(a.patch * a.patch * 3, a.vit_d_model, bias=False)
        self.pos = nn.Parameter(torch.zeros(n * n, a.vit_d_model))
        self.vit = nn.ModuleList(ViTBlock(a.vit_d_model, a.vit_heads, dff_of(a.vit_d_model)) for _ in range(a.vit_layers))
        fw = 2 * a.vit_d_model
        self.pad = nn.Parameter(torch.randn(2, fw) * 0.02)
        self.q, self.k, self.v, self.o = (nn.Linear(fw, fw, bias=False) for _ in range(4))
        self.gate = nn.Linear(fw, a.proj_hidden, bias=False)
        self.up = nn.Linear(fw, a.proj_hidden, bias=False)
        self.down = nn.Linear(a.proj_hidden, a.d_model, bias=False)
        self.lm = Model(a.vocab, a.d_model, a.heads, a.layers, dff_of(a.d_model), 1024)
        self.layers = [int(x) for x in a.feature_layers.split(",")]

    def vit_rows(self, crops):
        N, C, _, _ = crops.shape
        p, n = self.a.patch, self.n
        x = crops.view(N, n, p, n, p, 3).permute(0, 1, 3, 2, 4, 5).reshape(N, n * n, p * p * 3)
        x = self.patch(x) + self.pos
        feats = {}
        for i, blk in enumerate(self.vit[: max(self.layers) + 1]):
            x = blk(x)
            feats[i] = x
        f = torch.cat([feats[self.layers[0]], feats[self.layers[1]]], -1)
        return f.reshape(-1, f.shape[-1])

    def image_tokens(self, crops, pool, frac, pos):
        B, T, _ = pool.shape
        rows = self.vit_rows(crops)
        x = rows[pool.reshape(-1).long()].view(B, T, 4, -1)
        fr = frac[..., None]
        x = x + (fr <= 0).to(x.dtype) * self.pad[0] + ((fr > 0) & (fr < 1)).to(x.dtype) * self.pad[1] + pos[None, :, None, :]
        H = self.a.pool_heads
        fw = x.shape[-1]
        dh = fw // H
        q = self.q(x.mean(2)).view(B, T, 1, H, dh)
        k = self.k(x).view(B, T, 4, H, dh)
        v = self.v(x).view(B, T, 4, H, dh)
        p = ((q * k).sum(-1) / math.sqrt(dh)).softmax(2)[..., None]
        o = self.o((p * v).sum(2).reshape(B, T, fw))
        g = self.gate(o)
        return self.down(F.silu(g) * self.up(o))

    def forward(self, crops, pool, frac, pos, slots, tokens):
        img = self.image_tokens(crops, pool, frac, pos)
        B, T, D = img.shape
        padded = torch.cat([img, img.new_zeros(B, 1, D)], 1)
        emb = torch.gather(padded, 1, slots.long()[..., None].expand(-1, -1, D))
        lm = self.lm
        s = tokens.shape[1]
        cos, sin = rope_tables(s, lm.dh, lm.base, tokens.device)
        mask = torch.triu(torch.ones(s, s, dtype=torch.bool, device=tokens.device), 1)
        x = lm.embed(tokens) + emb
        for blk in lm.blocks:
            x = blk(x, cos, sin, mask)
        return lm.head(lm.norm(x))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--batch-file", required=True)
    for name, d in [("crop", 32), ("patch", 4), ("vit-layers", 3), ("vit-d-model", 64), ("vit-heads", 4), ("pool-heads", 4),
                    ("proj-hidden", 256), ("layers", 2), ("d-model", 128), ("heads", 4), ("vocab", 262), ("tokens", 0),
                    ("steps", 10), ("warmup", 2), ("threads", 2)]:
        ap.add_argument("--" + name, type=int, default=d)
    ap.add_argument("--feature-layers", default="2,0")
    ap.add_argument("--device", default="cpu")
    a = ap.parse_args()
    torch.manual_seed(0)
    torch.set_num_threads(a.threads)
    dev = torch.device(a.device)
    b = {k: v.to(dev) for k, v in read_safetensors(a.batch_file).items()}
    model = VLM(a).to(dev)
    vit = [p for n, p in model.named_parameters() if n.startswith(("patch", "pos", "vit"))]
    conn = [p for n, p in model.named_parameters() if n.startswith(("pad", "q.", "k.", "v.", "o.", "gate", "up", "down"))]
    lmp = [p for n, p in model.named_parameters() if n.startswith("lm.")]
    assert len(vit) + len(conn) + len(lmp) == len(list(model.parameters()))
    opt = torch.optim.AdamW([{"params": lmp, "lr": 1e-3}, {"params": vit, "lr": 5e-4}, {"params": conn, "lr": 2e-3}],
                            betas=(0.9, 0.95), eps=1e-8, weight_decay=0.1)
    win, w = b["windows"].long(), b["weights"]
    S = b["slots"].shape[1]

    def step():
        logits = model(b["crops"], b["pool"], b["frac"], b["pos"], b["slots"], win[:, :S])
        lp = torch.gather(F.log_softmax(logits, -1), 2, win[:, 1:, None]).squeeze(2)
        ww = w[:, 1:]
        loss = -(lp * ww).sum() / ww.sum().clamp_min(1e-9)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        return loss.item()

    for _ in range(a.warmup):
        step()
    if dev.type == "cuda":
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(a.steps):
        loss = step()
    if dev.type == "cuda":
        torch.cuda.synchronize()
    dt = (time.perf_counter() - t0) / a.steps
    print("torch: version=%s device=%s threads=%d openblas=%s step_ms=%.3f tok_s=%.1f loss=%.3f" % (
        torch.__version__, a.device, torch.get_num_threads(),
        openblas_core() if dev.type == "cpu" else "n/a", dt * 1e3, a.tokens / dt, loss), flush=True)


if __name__ == "__main__":
    main()
