#!/usr/bin/env bash
# The benchmark: wasmesh against nginx and against itself, side by side in one run.
#   bench/run.sh            full mode (3 rounds of 10 s per scenario, ~10 minutes)
#   bench/run.sh --short    quick check (1 round of 3 s, under 2 minutes)
# Full mode also profiles four scenarios with perf (where the proxy's CPU goes, by part and
# by function); --no-profile skips that, --profile NAMES picks others.
# Other flags go to the harness: bench/run.sh --help lists them.
# Writes BENCHMARKS.md, bench/results/latest.json (+ a dated copy) and bench/results/chart.svg.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || need+=(nginx)
command -v wrk >/dev/null 2>&1 || need+=(wrk)
command -v h2load >/dev/null 2>&1 || need+=(nghttp2-client)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
command -v taskset >/dev/null 2>&1 || need+=(util-linux)
command -v perf >/dev/null 2>&1 || need+=(linux-perf)
if [ ${#need[@]} -gt 0 ]; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "bench: please install these Debian packages: ${need[*]}" >&2
        exit 1
    fi
    echo "bench: installing ${need[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
# Debian starts an nginx service on install; it would hold port 80 and a core.
if command -v systemctl >/dev/null 2>&1; then systemctl stop nginx >/dev/null 2>&1 || true; fi
export PATH="$PATH:/usr/sbin"

scripts/setup >/dev/null
echo "bench: building the dist binaries (fat LTO, as shipped) and plugins"
cargo build --profile dist --locked -p wasmesh -p wasmesh-bench
cargo build --release --locked --target wasm32-wasip1 \
    --manifest-path plugins/Cargo.toml --target-dir target/wasm-plugins
exec target/dist/wasmesh-bench "$@"
