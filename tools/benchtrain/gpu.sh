#!/usr/bin/env bash
# bench-train on a GPU machine (JAX with its CUDA plugin, PyTorch with CUDA):
# Shammie on xla:cuda against PyTorch CUDA on the same model and batch, then
# the CPU figures on two pinned cores for reference. One prepared script, so
# it can run in a single short session:
#
#   tools/benchtrain/gpu.sh            # builds bin/benchtrain-xla if missing (go build -tags xla)
#   BENCHTRAIN_BIN=path gpu.sh         # use a binary built elsewhere (-tags xla)
#
# It finds xla_cuda_plugin.so in the Python environment's jax_plugins/xla_cuda*
# directory and points PJRT_PLUGIN_LIBRARY_PATH at it (nothing is downloaded),
# adds the pip nvidia/*/lib directories to LD_LIBRARY_PATH and points XLA at
# the pip CUDA compiler tools (ptxas, libdevice) when they are there.
set -uo pipefail
cd "$(dirname "$0")/../.."
PY=${PYTHON:-python3}
STEPS=${STEPS:-50}
BIN=${BENCHTRAIN_BIN:-bin/benchtrain-xla}

echo "== machine"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>&1 | head -2
nproc; "$PY" --version 2>&1

if [[ ! -x $BIN ]] || ! "$BIN" -h >/dev/null 2>&1; then
  echo "== building $BIN (go build -tags xla)"
  (cd tools && go build -tags xla -o "../$BIN" ./benchtrain) || { echo "gpu.sh: no usable $BIN and go build failed" >&2; exit 1; }
fi

echo "== locating the CUDA PJRT plugin"
if [[ -z ${PJRT_PLUGIN_LIBRARY_PATH:-} ]]; then
  plugin=$("$PY" - <<'PYEOF' 2>/dev/null
import glob, os
try:
    import jax_plugins
    roots = list(jax_plugins.__path__)
except Exception:
    roots = []
import site, sys
roots += [os.path.join(p, "jax_plugins") for p in site.getsitepackages() + [site.getusersitepackages()]]
for r in roots:
    for f in sorted(glob.glob(os.path.join(r, "xla_cuda*", "xla_cuda_plugin.so"))):
        print(f); sys.exit(0)
PYEOF
)
  [[ -z $plugin ]] && plugin=$(find / -name xla_cuda_plugin.so -path '*jax_plugins*' 2>/dev/null | head -1)
  [[ -z $plugin ]] && { echo "gpu.sh: no jax_plugins/xla_cuda*/xla_cuda_plugin.so found; install jax[cuda12] or set PJRT_PLUGIN_LIBRARY_PATH" >&2; exit 1; }
  export PJRT_PLUGIN_LIBRARY_PATH=$(dirname "$plugin")
fi
echo "PJRT_PLUGIN_LIBRARY_PATH=$PJRT_PLUGIN_LIBRARY_PATH"
site=$(dirname "$(dirname "$PJRT_PLUGIN_LIBRARY_PATH")")   # .../site-packages
if [[ -d $site/nvidia ]]; then
  libs=$(ls -d "$site"/nvidia/*/lib 2>/dev/null | paste -sd:)
  export LD_LIBRARY_PATH=${libs}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
  if [[ -d $site/nvidia/cuda_nvcc ]]; then
    export XLA_FLAGS="${XLA_FLAGS:-} --xla_gpu_cuda_data_dir=$site/nvidia/cuda_nvcc"
    export PATH=$site/nvidia/cuda_nvcc/bin:$PATH
  fi
fi
"$PY" -c 'import torch; print("torch", torch.__version__, "cuda", torch.cuda.is_available())' 2>&1 | tail -1

echo "== GPU: Shammie xla:cuda vs PyTorch cuda (layers 2, d_model 128, heads 4, seq 64, batch 16)"
timeout 180 "$BIN" -backend xla:cuda -torch-device cuda -python "$PY" -steps "$STEPS" -warmup 5 2>&1 | grep -v '^\s*$' | tail -8
echo "== GPU, batch 128"
timeout 120 "$BIN" -backend xla:cuda -torch-device cuda -python "$PY" -steps "$STEPS" -warmup 5 -batch 128 2>&1 | tail -4

echo "== CPU on 2 pinned cores: Shammie go backend vs this machine's PyTorch CPU (not Debian's build)"
timeout 120 taskset -c 0,1 "$BIN" -backend go -torch-device cpu -python "$PY" -steps 8 -warmup 2 2>&1 | tail -4
