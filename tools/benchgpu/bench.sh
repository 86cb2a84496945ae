#!/usr/bin/env bash
# make bench-gpu (issue 17): Shammie on xla:cuda against PyTorch eager and
# torch.compile at the sizes people train, in one call of a few minutes.
#
#   dense   the kit transformer at GPT-2-small scale (12 layers, d_model 768,
#           12 heads, seq 1024, batch BENCH_GPU_BATCH=32), bf16 products with
#           f32 master weights (precision = "bfloat16"), vs the same model in
#           PyTorch (tools/benchtrain/torch_ref.py, autocast bf16) eager,
#           torch.compile default and max-autotune-no-cudagraphs;
#   moe     OLMoE-shaped: 8 layers, d_model 1024, 64 experts, top-8, expert
#           hidden 1024, dropless, vs tools/benchmoe/bench_moe.py (experts as
#           torch._grouped_mm over the expert-sorted tokens), eager and compiled;
#   decode  batch-16 greedy decoding with the KV cache (tools/benchdecode),
#           GPT-2-small shape, vs PyTorch on the same weights;
#   specs   specs/default.hcl (and BENCH_GPU_SPECS) through the host on the
#           CPU and on xla:cuda, outputs compared by tools/runcompare.
#
# Each prints tokens/s, step ms, MFU (model FLOPs/token × tokens/s ÷ the
# GPU's bf16 dense peak, printed) and peak memory. Last line:
#
#   bench-gpu: dense_ratio=R dense_mfu=M moe_ratio=R moe_mfu=M decode_ratio=R gpu=NAME
#
# ratios against the best PyTorch mode that ran. BENCH_GPU_DRY=1 runs the
# same script on the CPU with tiny sizes (backend go, torch on the CPU; a
# torch without torch.compile says "compile unavailable" and the best mode
# that ran counts) so CI proves it parses, builds and prints the line.
#
# Needs: Go (to build; without it the binaries of `make gpu-bundle` in
# BENCH_GPU_BIN are used), a python3 with torch (BENCH_GPU_PYTHON), and for
# the GPU run JAX's CUDA PJRT plugin, which the binaries find themselves
# (sdk/ml/pjrt: the python3 in PATH, venvs, PJRT_PLUGIN_LIBRARY_PATH).
# Nothing is downloaded. Logs go to BENCH_GPU_OUT (default out/benchgpu).
set -uo pipefail
cd "$(dirname "$0")/../.."
DRY=${BENCH_GPU_DRY:-0}
OUTDIR=${BENCH_GPU_OUT:-out/benchgpu}
mkdir -p "$OUTDIR" && OUTDIR=$(cd "$OUTDIR" && pwd)
export BENCH_GPU_OUT=$OUTDIR

say() { printf '== %s\n' "$*"; }
die() { echo "bench-gpu: $*" >&2; exit 1; }

# --- Python with torch -------------------------------------------------------
PY=""
for p in ${BENCH_GPU_PYTHON:-} python3 /usr/bin/python3; do
  if "$p" -c 'import torch' 2>/dev/null; then PY=$p; break; fi
done
[[ -n $PY ]] || die "no python3 with torch (set BENCH_GPU_PYTHON; Debian: tools/benchtrain/install_torch.sh)"

# --- Mode and sizes ----------------------------------------------------------
if [[ $DRY == 1 ]]; then
  BACKEND=go; TDEV=cpu; TAGS=(); SUFFIX=""
  GPU=cpu-dry; PEAK=${BENCH_GPU_PEAK_TFLOPS:-0}
  DENSE=(-layers 2 -d-model 32 -heads 2 -seq 32 -batch 2); DT=(--layers 2 --d-model 32 --heads 2 --seq 32 --batch 2)
  MOE=(-layers 1 -d-model 32 -heads 2 -seq 32 -batch 2 -experts 8 -top-k 2 -expert-hidden 16)
  MT=(--layers 1 --d-model 32 --heads 2 --seq 32 --batch 2 --experts 8 --top-k 2 --expert-hidden 16)
  DEC=(-layers 1 -d-model 32 -heads 2 -min-prompt 4 -max-prompt 12 -new-tokens 4 -reps 1 -torch-threads 1)
  STEPS=2; WARM=1; T_SHAMMIE=60; T_TORCH=60
  SPECS=${BENCH_GPU_SPECS:-}
  export OPENBLAS_NUM_THREADS=1
else
  BACKEND=xla:cuda; TDEV=cuda; TAGS=(-tags xla); SUFFIX=-xla
  GPU=$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -1)
  [[ -n $GPU ]] || die "nvidia-smi sees no GPU (BENCH_GPU_DRY=1 runs the CPU dry mode)"
  if [[ -z ${BENCH_GPU_PEAK_TFLOPS:-} ]]; then
    # Dense bf16 tensor-core peaks (no sparsity) from the vendor sheets.
    case "$GPU" in
      *H200*|*H100*SXM*|*H100\ 80GB\ HBM3*) PEAK=989 ;;
      *H100*NVL*) PEAK=835 ;;
      *H100*) PEAK=756 ;;
      *A100*) PEAK=312 ;;
      *L40S*) PEAK=362 ;;
      *) PEAK=0 ;;
    esac
  else PEAK=$BENCH_GPU_PEAK_TFLOPS; fi
  B=${BENCH_GPU_BATCH:-32}
  DENSE=(-layers 12 -d-model 768 -heads 12 -seq 1024 -batch "$B"); DT=(--layers 12 --d-model 768 --heads 12 --seq 1024 --batch "$B")
  MB=${BENCH_GPU_MOE_BATCH:-16}
  MOE=(-layers 8 -d-model 1024 -heads 16 -seq 1024 -batch "$MB" -experts 64 -top-k 8 -expert-hidden 1024)
  MT=(--layers 8 --d-model 1024 --heads 16 --seq 1024 --batch "$MB" --experts 64 --top-k 8 --expert-hidden 1024)
  DEC=(-layers 12 -d-model 768 -heads 12 -min-prompt 32 -max-prompt 256 -new-tokens 128 -reps 3 -logit-tol 5e-2 -tie-tol 5e-2)
  STEPS=${BENCH_GPU_STEPS:-10}; WARM=3; T_SHAMMIE=${BENCH_GPU_TIMEOUT:-150}; T_TORCH=${BENCH_GPU_TORCH_TIMEOUT:-120}
  SPECS=${BENCH_GPU_SPECS-specs/default.hcl}
fi
TORCH_MODES=${BENCH_GPU_TORCH_MODES:-none default max-autotune-no-cudagraphs}
say "machine: $GPU; bf16 dense peak for MFU: ${PEAK} TFLOP/s; $(nproc) CPUs; $("$PY" -c 'import torch; print("torch", torch.__version__)')"

# --- Binaries ----------------------------------------------------------------
BIN=${BENCH_GPU_BIN:-bin/gpu}
mkdir -p "$BIN" && BIN=$(cd "$BIN" && pwd)
export BENCH_GPU_BIN=$BIN
if [[ -z $SUFFIX || ! -f $BIN/bench.tar.xz ]] && command -v go >/dev/null; then
  say "building the benchmarks ${TAGS[*]:-(pure Go)} into $BIN"
  (cd tools && go build "${TAGS[@]}" -o "$BIN/benchtrain$SUFFIX" ./benchtrain && go build "${TAGS[@]}" -o "$BIN/benchdecode$SUFFIX" ./benchdecode \
    && go build -o "$BIN/runcompare" ./runcompare) || die "go build failed"
  (cd plugins/moe && go build "${TAGS[@]}" -o "$BIN/benchmoe$SUFFIX" ./cmd/benchmoe) || die "go build failed"
else
  # `make gpu-bundle` packs them (xz) so that they fit a device call; a
  # bundle, when there, wins over building (a GPU machine may have Go but
  # not the modules).
  for t in "$BIN"/bench.tar.xz "$BIN"/specbin.tar.xz; do
    [[ -f $t ]] && { say "unpacking $t"; xz -dc "$t" | tar -C "$BIN" -xf - || die "cannot unpack $t"; }
  done
  for b in benchtrain$SUFFIX benchmoe$SUFFIX benchdecode$SUFFIX; do
    [[ -x $BIN/$b ]] || die "no Go here and no $BIN/$b: build them elsewhere with \`make gpu-bundle\` and bring $BIN/bench.tar.xz"
  done
fi

# --- Helpers -----------------------------------------------------------------
# GPU memory is sampled from nvidia-smi while a Shammie run goes (XLA's
# allocator is the process's; the host side is the process's max RSS).
mem_start() {
  MEMFILE=$(mktemp); echo 0 >"$MEMFILE"; MEMPID=""
  [[ $DRY == 1 ]] && return
  ( max=0; while sleep 0.5; do
      u=$(nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits 2>/dev/null | head -1)
      [[ $u =~ ^[0-9]+$ ]] && (( u > max )) && { max=$u; echo "$max" >"$MEMFILE"; }
    done ) & MEMPID=$!
}
mem_stop() { [[ -n $MEMPID ]] && kill "$MEMPID" 2>/dev/null; wait "$MEMPID" 2>/dev/null; cat "$MEMFILE"; rm -f "$MEMFILE"; }
# field KEY LINE: the value of KEY=... in LINE.
field() { sed -nE "s/.*(^| )$1=([^ ]+).*/\\2/p" <<<"$2" | head -1; }
# best_torch NAME SCRIPT ARGS...: every mode of TORCH_MODES; sets TORCH_BEST
# (tok/s) and TORCH_BEST_MODE.
best_torch() {
  local name=$1 script=$2; shift 2
  TORCH_BEST=0; TORCH_BEST_MODE=none
  for mode in $TORCH_MODES; do
    local log="$OUTDIR/$name-torch-$mode.log"
    timeout "$T_TORCH" "$PY" "$script" --device "$TDEV" --bf16 --compile "$mode" --steps "$STEPS" --warmup "$WARM" "$@" >"$log" 2>&1
    local rc=$? line; line=$(grep '^torch:' "$log" | tail -1)
    if [[ $line == *"compile unavailable"* ]]; then echo "  torch $mode: compile unavailable (torch.compile missing); the best mode that ran counts"; continue; fi
    local tok; tok=$(field tok_s "$line")
    if [[ -z $tok ]]; then echo "  torch $mode: failed (rc $rc; $log): $(tail -1 "$log")"; continue; fi
    local extra=""; [[ $line == *grouped=* ]] && extra=" grouped_mm=$(field grouped "$line")"
    echo "  torch $mode: step_ms=$(field step_ms "$line") tok_s=$tok peak_mem_mb=$(field peak_mem_mb "$line")$extra"
    if awk -v a="$tok" -v b="$TORCH_BEST" 'BEGIN{exit !(a>b)}'; then TORCH_BEST=$tok; TORCH_BEST_MODE=$mode; fi
  done
  echo "  torch best: $TORCH_BEST_MODE tok_s=$TORCH_BEST"
}
# A part that fails prints its log's tail and counts 0; the others still run
# and the last line is still printed (the exit status says something failed).
FAILED=()
fail() { echo "  $1: FAILED, no result ($2):"; tail -15 "$2" | sed 's/^/    /'; FAILED+=("$1"); }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{ if (b>0) printf "%.3f", a/b; else printf "0" }'; }

# --- dense -------------------------------------------------------------------
say "dense: GPT-2-small-shaped kit transformer, precision bfloat16, backend $BACKEND: ${DENSE[*]}"
mem_start
timeout "$T_SHAMMIE" "$BIN/benchtrain$SUFFIX" -backend "$BACKEND" -precision bfloat16 -matmuls=false -torch-script "" \
  -steps "$STEPS" -warmup "$WARM" -peak-tflops "$PEAK" "${DENSE[@]}" >"$OUTDIR/dense-shammie.log" 2>&1
gmem=$(mem_stop)
line=$(grep '^shammie:' "$OUTDIR/dense-shammie.log" | tail -1)
[[ -n $line ]] || fail dense "$OUTDIR/dense-shammie.log"
D_TOK=$(field tok_s "$line"); D_MFU=$(field mfu "$line"); D_TOK=${D_TOK:-0} D_MFU=${D_MFU:-0}
echo "  shammie: step_ms=$(field step_ms "$line") tok_s=$D_TOK model_gflop_per_token=$(field model_gflop_per_token "$line") mfu=$D_MFU gpu_peak_mem_mb=$gmem host_peak_rss_mb=$(field host_peak_rss_mb "$line")"
best_torch dense tools/benchtrain/torch_ref.py "${DT[@]}"
D_RATIO=$(ratio "$D_TOK" "$TORCH_BEST")

# --- moe ---------------------------------------------------------------------
say "moe: OLMoE-shaped dropless MoE, precision bfloat16, backend $BACKEND: ${MOE[*]}"
mem_start
timeout "$T_SHAMMIE" "$BIN/benchmoe$SUFFIX" -backend "$BACKEND" -precision bfloat16 -matmuls=false -dense=false -torch-script "" \
  -steps "$STEPS" -warmup "$WARM" -peak-tflops "$PEAK" "${MOE[@]}" >"$OUTDIR/moe-shammie.log" 2>&1
gmem=$(mem_stop)
line=$(grep '^shammie: model=moe' "$OUTDIR/moe-shammie.log" | tail -1)
[[ -n $line ]] || fail moe "$OUTDIR/moe-shammie.log"
M_TOK=$(field tok_s "$line"); M_MFU=$(field mfu "$line"); M_TOK=${M_TOK:-0} M_MFU=${M_MFU:-0}
echo "  shammie: step_ms=$(field step_ms "$line") tok_s=$M_TOK model_gflop_per_token=$(field model_gflop_per_token "$line") mfu=$M_MFU gpu_peak_mem_mb=$gmem host_peak_rss_mb=$(field host_peak_rss_mb "$line")"
TORCH_MODES=${BENCH_GPU_MOE_TORCH_MODES:-none default} best_torch moe tools/benchmoe/bench_moe.py --model moe "${MT[@]}"
M_RATIO=$(ratio "$M_TOK" "$TORCH_BEST")

# --- decode ------------------------------------------------------------------
say "decode: batch-16 greedy with the KV cache, backend $BACKEND: ${DEC[*]}"
mem_start
timeout "$T_SHAMMIE" "$BIN/benchdecode$SUFFIX" -backend "$BACKEND" -torch-device "$TDEV" -python "$PY" \
  -torch-script tools/benchdecode/torch_decode.py "${DEC[@]}" >"$OUTDIR/decode.log" 2>&1
gmem=$(mem_stop)
grep -E '^(shammie|torch):' "$OUTDIR/decode.log" | sed 's/^/  /'
line=$(grep '^bench-decode:' "$OUTDIR/decode.log" | tail -1)
[[ -n $line ]] || fail decode "$OUTDIR/decode.log"
DEC_RATIO=$(field ratio "$line"); DEC_RATIO=${DEC_RATIO:-0}
echo "  gpu_peak_mem_mb=$gmem"

# --- specs through the host: CPU vs this backend ------------------------------
if [[ -n $SPECS ]]; then
  # shellcheck disable=SC2086 # a list of specs
  tools/benchgpu/specs.sh "$BACKEND" $SPECS || { echo "  specs: comparison FAILED (see above)"; FAILED+=(specs); }
fi

((${#FAILED[@]} == 0)) || echo "bench-gpu: failed parts: ${FAILED[*]} (logs in $OUTDIR)"
echo "bench-gpu: dense_ratio=$D_RATIO dense_mfu=$D_MFU moe_ratio=$M_RATIO moe_mfu=$M_MFU decode_ratio=$DEC_RATIO gpu=${GPU// /_}"
((${#FAILED[@]} == 0))
