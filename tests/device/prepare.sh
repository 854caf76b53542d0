#!/usr/bin/env bash
# Builds the kit for the GPU check into .device/ (ignored by git, carried to the GPU machine):
# Node (xz), the llama.cpp source (trimmed, xz), the supervisor / metrics / driver bundled into
# single files, Debian's redis-server with its libraries, and two tiny models.
set -euo pipefail
cd "$(dirname "$0")/../.."
KIT=.device
rm -rf "$KIT" && mkdir -p "$KIT/redis" "$KIT/models"

xz -T2 -6 -c "$(command -v node)" > "$KIT/node.xz"

SRC=$(find "${LLAMAPROXY_CACHE_DIR:-$HOME/.cache/llamaproxy}/llama-server" -mindepth 2 -maxdepth 2 -type d -name src | head -1)
git -C "$SRC" archive --format=tar HEAD -- . ':!docs' ':!models' ':!media' ':!gguf-py' ':!conversion' ':!benches' ':!tests' \
  ':!ggml/src/ggml-sycl' ':!ggml/src/ggml-vulkan' ':!ggml/src/ggml-opencl' ':!ggml/src/ggml-hexagon' ':!ggml/src/ggml-cann' \
  ':!ggml/src/ggml-metal' ':!ggml/src/ggml-musa' ':!ggml/src/ggml-webgpu' ':!ggml/src/ggml-zdnn' ':!ggml/src/ggml-hip' \
  | xz -T2 -6 > "$KIT/llama-src.tar.xz"

bundle() {
  npx esbuild "$1" --bundle --platform=node --format=esm --target=node20 --conditions=development \
    "--banner:js=import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);" \
    --outfile="$2" --log-level=warning
}
bundle services/supervisor/src/main.ts "$KIT/supervisor.mjs"
bundle services/metrics/src/main.ts "$KIT/metrics.mjs"
bundle tests/device/gpu-check.ts "$KIT/gpu-check.mjs"

cp "$(command -v redis-server)" "$KIT/redis/"
ldd "$(command -v redis-server)" | awk '/=> \// { print $3 }' | grep -v -E '/(libc|libm|libpthread|libdl|librt)\.so' | xargs -I{} cp -L {} "$KIT/redis/"

npx tsx --conditions=development tests/src/cli/demo-models.ts "$KIT/models" --count 2 >/dev/null
cp tests/device/run.sh "$KIT/run.sh"
du -sh "$KIT"; ls -la "$KIT"
