#!/usr/bin/env bash
# The project's test command (README): installs what the tests need, then runs them.
# Safe to run on a fresh Debian machine with the Rust toolchain; idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/eventyard/target}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"

# System packages the tests need: python3 (benchmark kit checks), and for the designer's
# tests a virtual X server and xdotool (the real-window screenshot and kill -9 tests)
# and Mesa's software renderers (kittest snapshots render on lavapipe/llvmpipe; no GPU).
need=()
command -v python3 >/dev/null || need+=(python3)
command -v xvfb-run >/dev/null || need+=(xvfb xauth)
command -v xdotool >/dev/null || need+=(xdotool)
for pkg in mesa-vulkan-drivers libvulkan1 libegl1 libgl1-mesa-dri libxkbcommon-x11-0 libxcursor1 libdbus-1-3; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
  echo "== installing: ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq "${need[@]}" >/dev/null 2>&1 \
    || { apt-get update -qq && apt-get install -y -qq "${need[@]}"; }
fi
# A private runtime dir silences lavapipe's warnings; no display leaks into tests.
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-$(mktemp -d)}"
chmod 700 "$XDG_RUNTIME_DIR"
unset DISPLAY WAYLAND_DISPLAY || true

echo "== layering: the headless build must not link egui"
if cargo tree --locked --no-default-features -e normal --prefix none | grep -Eiq '^(egui|eframe|egui_graphs|rfd)[ -]'; then
  echo "error: egui/eframe/rfd found in the --no-default-features dependency tree" >&2
  exit 1
fi

echo "== format and lints"
cargo fmt --all -- --check
cargo clippy --locked --all-targets -- -D warnings
cargo clippy --locked --no-default-features -- -D warnings

echo "== build (headless and default features)"
cargo build --locked --no-default-features
cargo build --locked --all-targets

echo "== tests (every module, the designer's kittest and Xvfb tests included)"
cargo test --locked
