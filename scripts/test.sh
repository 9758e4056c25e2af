#!/usr/bin/env bash
# The project's test command (README): installs what the tests need, then runs them.
# Safe to run on a fresh Debian machine with the Rust toolchain; idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/eventyard/target}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"

# System packages the tests need. The pattern engine's tests need none beyond Rust and
# python3 (present on the image); GUI tests will add Mesa/Xvfb here.
need=()
command -v python3 >/dev/null || need+=(python3)
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq && apt-get install -y -qq "${need[@]}"
fi

echo "== layering: the headless build must not link egui"
if cargo tree --locked --no-default-features -e normal --prefix none | grep -Eiq '^(egui|eframe|egui_graphs|rfd)[ -]'; then
  echo "error: egui/eframe/rfd found in the --no-default-features dependency tree" >&2
  exit 1
fi

echo "== format and lints"
cargo fmt --all -- --check
cargo clippy --locked --no-default-features --all-targets -- -D warnings

echo "== build (headless and default features)"
cargo build --locked --no-default-features --all-targets
cargo build --locked --all-targets

echo "== tests"
cargo test --locked --no-default-features
