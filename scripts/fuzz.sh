#!/usr/bin/env bash
# Run every cargo-fuzz target for a bounded time (seconds, default 15). A crash fails.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
seconds="${1:-15}"
export CARGO_TARGET_DIR="${KEELSON_CACHE:-/var/cache/keelson}/target-fuzz"
# The per-target logs below live there, before cargo would create it.
mkdir -p "$CARGO_TARGET_DIR"
for target in $(cargo +nightly fuzz list); do
  echo "fuzz: $target for ${seconds}s"
  cargo +nightly fuzz run "$target" -- -max_total_time="$seconds" -rss_limit_mb=2048 >/dev/null 2>"$CARGO_TARGET_DIR/$target.log" || {
    tail -n 40 "$CARGO_TARGET_DIR/$target.log"; echo "fuzz: $target failed" >&2; exit 1; }
done
echo "fuzz: all targets ran without a crash"
