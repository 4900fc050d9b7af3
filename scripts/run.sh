#!/usr/bin/env bash
# The main job: build Keelson and run a control plane whose admin kubeconfig kubectl can use
# at once. Data and credentials live in ${KEELSON_DATA:-./keelson-data} and survive restarts.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
CACHE_DIR="${KEELSON_CACHE:-/var/cache/keelson}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$CACHE_DIR/target}"
cargo build --release --locked -p keelson
DATA="${KEELSON_DATA:-$PWD/keelson-data}"
LISTEN="${KEELSON_LISTEN:-127.0.0.1:6443}"
"$CARGO_TARGET_DIR/release/keelson" control-plane --data-dir "$DATA" --listen "$LISTEN" "$@" &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid' EXIT INT TERM
for _ in $(seq 1 100); do [ -f "$DATA/admin.kubeconfig" ] && kubectl --kubeconfig "$DATA/admin.kubeconfig" get --raw /readyz >/dev/null 2>&1 && break; sleep 0.1; done
echo
echo "Keelson control plane is running. Use it with:"
echo "  export KUBECONFIG=$DATA/admin.kubeconfig"
echo
KUBECONFIG="$DATA/admin.kubeconfig" kubectl get namespaces
wait $pid
