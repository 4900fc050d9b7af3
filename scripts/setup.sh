#!/usr/bin/env bash
# Install what Keelson's build and tests need on a Debian 12 machine (as root), only what is
# missing: Debian packages, the Python test clients in a virtualenv, and cargo-fuzz.
set -euo pipefail
cd "$(dirname "$0")/.."

CACHE_DIR="${KEELSON_CACHE:-/var/cache/keelson}"
VENV="$CACHE_DIR/venv"
mkdir -p "$CACHE_DIR"

# protobuf-compiler: etcd-client generates its gRPC stubs from etcd's .proto files at build time.
debian_packages=(etcd-server etcd-client protobuf-compiler ca-certificates curl iproute2 procps)
missing=()
for pkg in "${debian_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
  echo "setup: installing Debian packages: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# etcd-server's package starts a system etcd on 2379; our tests start their own on free ports.
if systemctl is-active --quiet etcd 2>/dev/null; then systemctl disable --now etcd >/dev/null 2>&1 || true; fi

if ! command -v cargo >/dev/null; then
  echo "setup: cargo is required (the machine's Rust toolchain)" >&2
  exit 1
fi
if ! command -v kubectl >/dev/null; then
  echo "setup: kubectl is required on PATH (the machine's kubectl dispatcher)" >&2
  exit 1
fi

PYTHON="${PYTHON:-python3}"
if [ -d tests/e2e ] && [ ! -x "$VENV/bin/python" ]; then
  echo "setup: creating the Python test virtualenv in $VENV"
  "$PYTHON" -m venv "$VENV"
fi
if [ -d tests/e2e ] && ! "$VENV/bin/python" -c 'import kubernetes, pytest, yaml, boto3, awscli' 2>/dev/null; then
  echo "setup: installing Python test clients"
  "$VENV/bin/pip" install -q --disable-pip-version-check -r tests/requirements.txt
fi

if [ "${KEELSON_SKIP_FUZZ:-0}" != 1 ] && [ -d fuzz ] && rustup toolchain list | grep -q nightly && ! cargo +nightly fuzz --version >/dev/null 2>&1; then
  echo "setup: installing cargo-fuzz"
  cargo install -q cargo-fuzz --locked
fi
echo "setup: ok"
