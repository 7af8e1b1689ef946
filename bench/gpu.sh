#!/usr/bin/env bash
# End-to-end latency of webclip's native wgpu backend on a real GPU (Vulkan), next to the CPU on the same machine,
# on the synthetic ViT-B/32 (f32 and q8), as JSON lines under $OUT (or ./bench-gpu-out) and one table on stdout.
# Fits the device tool's 10-minute command limit: no compiling there (the binary travels), ~2 min of benching.
#
# Here (once per session; a build machine, no GPU needed):
#   cargo build --release --bin webclip && mkdir -p .gpubench && cp target/release/webclip .gpubench/ && strip .gpubench/webclip
#   echo /.gpubench/ >> .git/info/exclude
#   # the Vulkan loader, per the device tool's README (its machines may have none):
#   echo /.gl/ >> .git/info/exclude; mkdir -p .gl /tmp/amd64/partial
#   o='-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=/tmp/amd64'
#   apt-get $o update; (cd .gl && apt-get $o download libvulkan1)
# There (the device tool's `run`, carry [".gpubench", ".gl"], timeout_s 600):
#   bash bench/gpu.sh
# Locally (lavapipe, software: NOT GPU numbers; checks the script itself):
#   WEBCLIP=target/release/webclip bash bench/gpu.sh --runs 1 --batches 1
#
# Not yet measured by this script (issue 13): per-kernel GFLOP/s against the device's peak (needs timestamp
# queries in `webclip bench --profile` for the GPU backend, which is not implemented); only end-to-end passes.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

RUNS=10
BATCHES="1 8"
while [ $# -gt 0 ]; do
    case $1 in
        --runs) RUNS=$2; shift 2 ;;
        --batches) BATCHES=$2; shift 2 ;;
        *) echo "bench/gpu.sh: unknown argument $1 (known: --runs N, --batches 'N M')" >&2; exit 2 ;;
    esac
done

WEBCLIP=${WEBCLIP:-.gpubench/webclip}
[ -x "$WEBCLIP" ] || { echo "bench/gpu.sh: no webclip binary at $WEBCLIP: build it here and carry .gpubench (see the top of this file)" >&2; exit 1; }
OUT_DIR=${OUT:-bench-gpu-out}
mkdir -p "$OUT_DIR"
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

# The Vulkan loader, if the machine has none (the device tool's machines start bare).
if ! ldconfig -p 2>/dev/null | grep -q libvulkan.so.1; then
    ls .gl/*.deb >/dev/null 2>&1 || { echo "bench/gpu.sh: no libvulkan.so.1 and no .gl/*.deb to unpack (see the top of this file)" >&2; exit 1; }
    for f in .gl/*.deb; do dpkg -x "$f" /; done
    ldconfig
fi
nvidia_icd=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
if [ -z "${VK_DRIVER_FILES:-}" ] && [ -f $nvidia_icd ]; then export VK_DRIVER_FILES=$nvidia_icd; fi

{
    echo "date: $(date -u +%FT%TZ)"
    echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //') ($(nproc) threads)"
    command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | sed 's/^/gpu: /'
    echo "webclip: $("$WEBCLIP" --version)"
} | tee "$OUT_DIR/machine.txt"

t0=$SECONDS
"$WEBCLIP" synth --preset vit-b-32 --seed 0 --out "$WORK/vb32" 2>/dev/null
"$WEBCLIP" convert --model "$WORK/vb32" --quant q8 --out "$WORK/vb32.q8.webclip" >/dev/null
echo "synthetic ViT-B/32 written and converted: $((SECONDS - t0)) s"

results=$OUT_DIR/bench.jsonl
: >"$results"
bench() {  # weights backend batch
    local model=$WORK/vb32
    [ "$1" = q8 ] && model=$WORK/vb32.q8.webclip
    local t=$SECONDS line
    if line=$("$WEBCLIP" bench --model "$model" --backend "$2" --batch "$3" --runs "$RUNS" 2>"$WORK/err"); then
        echo "{\"weights\":\"$1\",\"batch\":$3,\"report\":$line}" >>"$results"
    else
        echo "bench $1 $2 batch $3 failed: $(tail -3 "$WORK/err")" >&2
    fi
    echo "  $1 $2 batch $3: $((SECONDS - t)) s" >&2
}
for weights in f32 q8; do
    for batch in $BATCHES; do bench $weights gpu $batch; done
    bench $weights cpu 1
done

python3 - "$results" <<'EOF' || cat "$results"
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
print("| weights | backend | device | batch | image ms/item | image GFLOP/s | text (77 tok) ms/item | text GFLOP/s |")
print("|---|---|---|---:|---:|---:|---:|---:|")
for r in rows:
    b = r["report"]
    v, t = b["vision"], b["text"]
    print(f"| {r['weights']} | {b['device']['backend']} | {b['device']['name']} | {r['batch']} | "
          f"{v['ms_per_item']:.2f} | {v['gflop_per_s']:.0f} | {t['ms_per_item']:.2f} | {t['gflop_per_s']:.0f} |")
EOF
