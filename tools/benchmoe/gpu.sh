#!/usr/bin/env bash
# bench-moe on a GPU machine (JAX with its CUDA plugin, PyTorch with CUDA,
# Go): the MoE model and the dense model with the same active parameters on
# Shammie's xla:cuda against PyTorch CUDA, with tokens/s and model FLOPs
# utilisation (executed matmul FLOPs ÷ step time ÷ the GPU's f32 peak). One
# prepared script for one short session:
#
#   tools/benchmoe/gpu.sh               # builds bin/benchmoe-xla (go build -tags xla) if missing
#   BENCHMOE_BIN=path tools/benchmoe/gpu.sh
#   PEAK_TFLOPS=67 tools/benchmoe/gpu.sh   # override the f32 peak used for MFU
#
# The PJRT plugin is located exactly as tools/benchtrain/gpu.sh does (the
# Python environment's jax_plugins/xla_cuda*/xla_cuda_plugin.so; nothing is
# downloaded).
set -uo pipefail
cd "$(dirname "$0")/../.."
PY=${PYTHON:-python3}
STEPS=${STEPS:-30}
BIN=${BENCHMOE_BIN:-bin/benchmoe-xla}
RT=${RUN_TIMEOUT:-240}

echo "== machine"
gpu=$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -1)
echo "${gpu:-no nvidia-smi}"; nproc
if [[ -z ${PEAK_TFLOPS:-} ]]; then
  # Dense f32 (non-tensor-core) peaks from the vendor sheets; TF32 tensor
  # cores are several times higher, so MFU against these is an upper bound.
  case "$gpu" in
    *H200*|*H100*SXM*|*H100\ 80GB\ HBM3*) PEAK_TFLOPS=67 ;;
    *H100*) PEAK_TFLOPS=51 ;;
    *A100*) PEAK_TFLOPS=19.5 ;;
    *) PEAK_TFLOPS=0 ;;
  esac
fi
echo "f32 peak used for MFU: ${PEAK_TFLOPS} TFLOP/s"

if [[ ! -x $BIN ]]; then
  echo "== building $BIN (go build -tags xla)"
  (cd plugins/moe && go build -tags xla -o "../../$BIN" ./cmd/benchmoe) || { echo "gpu.sh: go build -tags xla failed" >&2; exit 1; }
fi

if [[ -z ${PJRT_PLUGIN_LIBRARY_PATH:-} ]]; then
  plugin=$("$PY" -c 'import glob,os,site,sys
roots=[]
try:
    import jax_plugins; roots+=list(jax_plugins.__path__)
except Exception: pass
roots+=[os.path.join(p,"jax_plugins") for p in site.getsitepackages()+[site.getusersitepackages()]]
for r in roots:
    for f in sorted(glob.glob(os.path.join(r,"xla_cuda*","xla_cuda_plugin.so"))):
        print(f); sys.exit(0)' 2>/dev/null)
  [[ -z $plugin ]] && plugin=$(find / -name xla_cuda_plugin.so -path '*jax_plugins*' 2>/dev/null | head -1)
  [[ -z $plugin ]] && { echo "gpu.sh: no jax_plugins/xla_cuda*/xla_cuda_plugin.so; set PJRT_PLUGIN_LIBRARY_PATH" >&2; exit 1; }
  export PJRT_PLUGIN_LIBRARY_PATH=$(dirname "$plugin")
fi
echo "PJRT_PLUGIN_LIBRARY_PATH=$PJRT_PLUGIN_LIBRARY_PATH"
site=$(dirname "$(dirname "$PJRT_PLUGIN_LIBRARY_PATH")")
if [[ -d $site/nvidia ]]; then
  libs=$(ls -d "$site"/nvidia/*/lib 2>/dev/null | paste -sd:)
  export LD_LIBRARY_PATH=${libs}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
  if [[ -d $site/nvidia/cuda_nvcc ]]; then
    export XLA_FLAGS="${XLA_FLAGS:-} --xla_gpu_cuda_data_dir=$site/nvidia/cuda_nvcc"
    export PATH=$site/nvidia/cuda_nvcc/bin:$PATH
  fi
fi
"$PY" -c 'import torch; print("torch", torch.__version__, "cuda", torch.cuda.is_available())' 2>&1 | tail -1

for b in 16 128; do
  echo "== GPU, batch $b: MoE E=8 k=2 (and dense d_ff=352), xla:cuda vs torch cuda"
  timeout "$RT" "$BIN" -backend xla:cuda -torch-device cuda -python "$PY" -steps "$STEPS" -warmup 5 -batch "$b" \
    -peak-tflops "$PEAK_TFLOPS" 2>&1 | grep -E '^(models|shammie|torch|ratios|bench-moe)'
done
echo "== GPU, batch 128: OLMoE-shaped routing E=64 k=8 (expert_hidden 44)"
timeout "$RT" "$BIN" -backend xla:cuda -torch-device cuda -python "$PY" -steps "$STEPS" -warmup 5 -batch 128 \
  -experts 64 -top-k 8 -expert-hidden 44 -peak-tflops "$PEAK_TFLOPS" 2>&1 | grep -E '^(models|shammie|torch|ratios|bench-moe)'
