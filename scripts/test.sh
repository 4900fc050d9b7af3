#!/usr/bin/env bash
# Keelson's whole test suite: formatting, lints, unit and integration tests of every crate
# (store conformance on the embedded, in-memory and etcd backends), bounded fuzzing, and the
# end-to-end suite driving a real control plane with kubectl and the Python client.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh
CACHE_DIR="${KEELSON_CACHE:-/var/cache/keelson}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$CACHE_DIR/target}"
export KEELSON_BIN="$CARGO_TARGET_DIR/debug/keelson"

echo "== cargo fmt"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings
echo "== cargo build"
cargo build --workspace --locked
echo "== cargo test"
cargo nextest run --workspace --locked --no-fail-fast
cargo test --workspace --doc --locked

if [ "${KEELSON_SKIP_FUZZ:-0}" != 1 ] && [ -d fuzz ]; then
  echo "== fuzz (bounded)"
  bash scripts/fuzz.sh "${KEELSON_FUZZ_SECONDS:-15}"
fi

if [ -d tests/e2e ]; then
  echo "== end-to-end (kubectl, Python client)"
  "$CACHE_DIR/venv/bin/python" -m pytest -q tests/e2e "$@"
fi
