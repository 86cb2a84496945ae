#!/usr/bin/env python3
"""PyTorch reference for `make bench-decode`: the sdk/ml transformer (token
embedding, RoPE rotate-half, RMSNorm with gain, optional QK-norm, fused
q|k|v projection, causal MHA scaled by 1/sqrt(d_head), fused SwiGLU
gate|up, untied head, no biases) loaded from the safetensors file Shammie
wrote, decoding greedily with a KV cache: the prompts left-padded into one
batch (padding masked, per-row positions), then one token per step.

It writes the generated tokens and the logits after the prompts to --out (for
the Go side to compare), times --reps decodes and prints one line:

  torch: version=V device=D threads=N openblas=CORE decode_ms=X tok_s=Y
"""
import argparse
import json
import math
import os
import struct
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "benchtrain"))
from torch_ref import openblas_core  # noqa: E402  (same kernel report as bench-train)


def read_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    dtypes = {"F32": torch.float32, "F64": torch.float64}
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        lo, hi = info["data_offsets"]
        t = torch.frombuffer(bytearray(data[lo:hi]), dtype=dtypes[info["dtype"]])
        out[name] = t.reshape(info["shape"]).float()
    return out


class Model:
    """The weights as PyTorch wants them: nn.Linear layout [out, in],
    contiguous, so every projection is one F.linear (a BLAS GEMM)."""

    def __init__(self, w, cfg, device):
        self.cfg = cfg
        self.h = cfg["num_heads"]
        self.dh = cfg["d_model"] // self.h
        self.dff = cfg["d_ff"]
        self.eps = cfg["norm_eps"]
        lin = lambda n: w[n].t().contiguous().to(device)  # [in, out] -> [out, in]
        vec = lambda n: w[n].contiguous().to(device)
        self.embed = vec("model.embed.table")
        self.layers = []
        for i in range(cfg["num_layers"]):
            p = "model.layer_%d." % i
            layer = dict(attn_norm=vec(p + "attn_norm.gain"), qkv=lin(p + "attn.qkv.weights"),
                         out=lin(p + "attn.out.weights"), ff_norm=vec(p + "ff_norm.gain"),
                         gate_up=lin(p + "ff.gate_up.weights"), down=lin(p + "ff.down.weights"))
            if cfg["qk_norm"]:
                layer["q_norm"], layer["k_norm"] = vec(p + "attn.q_norm.gain"), vec(p + "attn.k_norm.gain")
            self.layers.append(layer)
        self.final_norm = vec("model.final_norm.gain")
        self.head = lin("model.head.weights")
        half = self.dh // 2
        inv = cfg["rope_base"] ** (-2.0 * torch.arange(half, dtype=torch.float64) / self.dh)
        self.inv = torch.cat([inv, inv]).float().to(device)

    def rms(self, x, gain):
        return x / torch.sqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * gain

    def rope(self, pos):  # pos [B, S] -> cos, sin [B, S, 1, Dh]
        ang = pos.float()[..., None] * self.inv
        return ang.cos()[:, :, None, :], ang.sin()[:, :, None, :]

    @staticmethod
    def apply_rope(x, cos, sin):  # x [B, S, H, Dh]
        half = x.shape[-1] // 2
        rot = torch.cat([-x[..., half:], x[..., :half]], -1)
        return x * cos + rot * sin

    def forward(self, tokens, pos, bias, cache, start):
        """tokens [B, S] at cache slots start..start+S-1 (positions pos
        [B, S]); bias [B, 1, S, start+S] additive; cache: per layer (K, V)
        [B, H, max_seq, Dh], written in place. Returns logits [B, S, V]."""
        b, s = tokens.shape
        x = F.embedding(tokens, self.embed)
        cos, sin = self.rope(pos)
        end = start + s
        for layer, (kc, vc) in zip(self.layers, cache):
            q, k, v = F.linear(self.rms(x, layer["attn_norm"]), layer["qkv"]).view(b, s, 3, self.h, self.dh).unbind(2)
            if self.cfg["qk_norm"]:
                q, k = self.rms(q, layer["q_norm"]), self.rms(k, layer["k_norm"])
            q = self.apply_rope(q, cos, sin) / math.sqrt(self.dh)
            k = self.apply_rope(k, cos, sin)
            kc[:, :, start:end] = k.transpose(1, 2)
            vc[:, :, start:end] = v.transpose(1, 2)
            att = (q.transpose(1, 2) @ kc[:, :, :end].transpose(-1, -2) + bias).softmax(-1)
            y = (att @ vc[:, :, :end]).transpose(1, 2).reshape(b, s, -1)
            x = x + F.linear(y, layer["out"])
            gate, up = F.linear(self.rms(x, layer["ff_norm"]), layer["gate_up"]).split(self.dff, -1)
            x = x + F.linear(F.silu(gate) * up, layer["down"])
        return F.linear(self.rms(x, self.final_norm), self.head)

    def generate(self, prompts, new_tokens, device):
        """Greedy decoding; returns tokens [B, new] and the logits after the
        prompts [B, V]."""
        cfg = self.cfg
        b, t = len(prompts), max(len(p) for p in prompts)
        pad = torch.tensor([t - len(p) for p in prompts], device=device)
        tokens = torch.zeros(b, t, dtype=torch.long, device=device)
        for i, p in enumerate(prompts):
            tokens[i, t - len(p):] = torch.tensor(p, dtype=torch.long)
        max_seq = t + new_tokens
        cache = [(torch.zeros(b, self.h, max_seq, self.dh, device=device),
                  torch.zeros(b, self.h, max_seq, self.dh, device=device)) for _ in self.layers]
        slots = torch.arange(max_seq, device=device)
        is_pad = slots[None, :] < pad[:, None]  # [B, max_seq]: padding sits in slots 0..pad-1
        neg = torch.tensor(-1e9, device=device)
        # Prompt chunk: causal and padding mask, positions skip the padding.
        causal = slots[None, :t] > slots[:t, None]
        bias = torch.where(causal[None] | is_pad[:, None, :t], neg, torch.tensor(0.0, device=device))[:, None]
        pos = (slots[None, :t] - pad[:, None]).clamp(min=0)
        logits = self.forward(tokens, pos, bias, cache, 0)[:, -1]
        first = logits.clone()
        out = torch.empty(b, new_tokens, dtype=torch.long, device=device)
        step_bias = torch.where(is_pad, neg, torch.tensor(0.0, device=device))[:, None, None, :]  # [B,1,1,max_seq]
        for i in range(new_tokens):
            tok = logits.argmax(-1)
            out[:, i] = tok
            if i == new_tokens - 1:
                break
            slot = t + i
            logits = self.forward(tok[:, None], (slot - pad)[:, None], step_bias[..., :slot + 1], cache, slot)[:, -1]
        return out, first


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--weights", required=True)
    ap.add_argument("--config", required=True, help="model config.json (sdk/ml field names)")
    ap.add_argument("--prompts", required=True, help="JSON list of token lists")
    ap.add_argument("--new-tokens", type=int, required=True)
    ap.add_argument("--out", required=True, help="JSON written with tokens and first logits")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--check-only", action="store_true", help="write --out and exit (no timing)")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    dev = torch.device(a.device)
    with open(a.config) as f:
        cfg = json.load(f)
    with open(a.prompts) as f:
        prompts = json.load(f)
    model = Model(read_safetensors(a.weights), cfg, dev)
    with torch.inference_mode():
        toks, first = model.generate(prompts, a.new_tokens, dev)
        with open(a.out, "w") as f:
            json.dump({"tokens": toks.tolist(), "logits": first.tolist()}, f)
        if a.check_only:
            return
        for _ in range(a.warmup):
            model.generate(prompts, a.new_tokens, dev)
        times = []
        for _ in range(a.reps):
            if dev.type == "cuda":
                torch.cuda.synchronize()
            t0 = time.perf_counter()
            toks, _ = model.generate(prompts, a.new_tokens, dev)
            toks.tolist()  # to the host, as the Go side has its tokens there
            times.append(time.perf_counter() - t0)
    dt = sorted(times)[len(times) // 2]
    print("torch: version=%s device=%s threads=%d openblas=%s decode_ms=%.3f (median of %d) tok_s=%.1f" % (
        torch.__version__, a.device, torch.get_num_threads(),
        openblas_core() if dev.type == "cpu" else "n/a", dt * 1e3, a.reps,
        len(prompts) * a.new_tokens / dt), flush=True)


if __name__ == "__main__":
    main()
