#!/usr/bin/env bash
# Runs on the GPU machine (see prepare.sh): builds llama-server with CUDA for this GPU's
# architecture, then the supervisor and the metrics collector with it, and gpu-check.mjs to drive
# them. Everything it learns goes under $OUT.
set -u
KIT=$(cd "$(dirname "$0")" && pwd)
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
W=/tmp/llamaproxy-gpu; mkdir -p "$W" && cd "$W" || exit 1
exec > >(tee -a "$OUT/run.log") 2>&1
echo "== machine"; (head -2 /etc/os-release; nproc; nvidia-smi -L; nvcc --version | tail -2) 2>&1

xz -dc "$KIT/node.xz" > node && chmod +x node
mkdir -p src && tar -xJf "$KIT/llama-src.tar.xz" -C src
ARCH=$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader | head -1 | tr -d .)
echo "== building llama-server for sm_${ARCH}"
START=$(date +%s)
cmake -S src -B build -DGGML_CUDA=ON "-DCMAKE_CUDA_ARCHITECTURES=${ARCH}" -DGGML_CUDA_FA=OFF -DGGML_CUDA_NCCL=OFF \
  -DLLAMA_CURL=OFF -DLLAMA_OPENSSL=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DGGML_NATIVE=OFF \
  -DBUILD_SHARED_LIBS=OFF > "$OUT/cmake-configure.log" 2>&1 || { tail -30 "$OUT/cmake-configure.log"; exit 1; }
cmake --build build --target llama-server -j "$(nproc)" > "$OUT/cmake-build.log" 2>&1 || { tail -40 "$OUT/cmake-build.log"; exit 1; }
echo "built in $(( $(date +%s) - START )) s"; ./build/bin/llama-server --version 2>&1 | tail -3

echo "== stack"
LD_LIBRARY_PATH="$KIT/redis" "$KIT/redis/redis-server" --port 6399 --save '' --appendonly no --daemonize no > "$OUT/redis.log" 2>&1 &
REDIS=$!
export REDIS_URL=redis://127.0.0.1:6399 SUPERVISOR_NODE_ID=gpu METRICS_NODE_ID=gpu LLAMA_SERVER_URL=http://127.0.0.1:8080
export MODELS_DIR="$KIT/models" LOG_FORMAT=json NODE_ENV=production
sleep 1
LLAMA_SERVER_BIN="$W/build/bin/llama-server" SUPERVISOR_DATA_DIR="$W/sup" LLAMA_GPU_LAYERS=all LLAMA_CTX_SIZE=2048 \
  LLAMA_MODELS_AUTOLOAD=false ./node "$KIT/supervisor.mjs" > "$OUT/supervisor.log" 2>&1 &
SUP=$!
DATA_DIR="$W" METRICS_INTERVAL_MS=1000 ./node "$KIT/metrics.mjs" > "$OUT/metrics.log" 2>&1 &
MET=$!
OUT="$OUT" ./node "$KIT/gpu-check.mjs"; echo "gpu-check exit=$?"
nvidia-smi --query-compute-apps=pid,process_name,used_memory --format=csv > "$OUT/compute-apps.csv" 2>&1
kill -TERM "$MET" "$SUP"; wait "$MET" "$SUP"; echo "services exit: metrics=$? (supervisor waited)"
pgrep -a llama-server > "$OUT/leftover.txt" || echo "no llama-server left" > "$OUT/leftover.txt"
kill "$REDIS"; wait "$REDIS" 2>/dev/null
echo "== done"
