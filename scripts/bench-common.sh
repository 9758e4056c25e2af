# Shared setup of the matcher benchmark scripts (sourced, not run).
# Sets: here (repo root), data (benchmark data dir, generated when absent), passes,
# target (cargo target dir); builds the release examples named in $examples.
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
data="${1:-$here/target/bench-data}"
passes="${2:-5}"
target="${CARGO_TARGET_DIR:-$here/target}"
if [ ! -f "$data/workloads.tsv" ]; then
  bash "$here/benches/kit/make_data.sh" "$data" >&2
fi
build_args=()
for example in $examples; do build_args+=(--example "$example"); done
cargo build --release --no-default-features "${build_args[@]}" --manifest-path "$here/Cargo.toml" >&2
