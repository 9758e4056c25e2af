#!/usr/bin/env bash
# What CI checks, runnable locally: formatting, lints (warnings are errors), tests.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/eventyard/target}"
# scripts/test.sh already checks formatting and headless lints; add default features.
cargo clippy --locked --all-targets -- -D warnings
bash scripts/test.sh
