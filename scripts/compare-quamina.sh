#!/usr/bin/env bash
# Side-by-side, same run: Eventyard's matcher and the `quamina` crate 0.7.0 on every
# workload, alternating engines per workload so machine noise hits both alike.
#   scripts/compare-quamina.sh [DATA_DIR] [PASSES]
# Prints a Markdown table: workload, rules, Eventyard ev/s, quamina ev/s, ratio, counts check.
set -euo pipefail
examples="match_bench quamina_bench"
# shellcheck source=scripts/bench-common.sh
source "$(dirname "$0")/bench-common.sh"
ours="$target/release/examples/match_bench"
theirs="$target/release/examples/quamina_bench"
tmp="$(mktemp -d)"
echo "| workload | rules | Eventyard ev/s | quamina 0.7.0 ev/s | ratio | Eventyard counts | quamina counts |"
echo "|---|---:|---:|---:|---:|---|---|"
while IFS=$'\t' read -r name patterns events _class; do
  case "$name" in '#'*|'') continue ;; esac
  expected="$here/benches/kit/expected-counts/$name.tsv"
  a=$("$ours" --name "$name" --warmup 2 --passes "$passes" --counts "$tmp/ours.tsv" "$data/$patterns" "$data/$events" 2>/dev/null)
  ok_a=$(diff -q "$expected" "$tmp/ours.tsv" >/dev/null && echo exact || echo "DIFFER")
  if b=$("$theirs" --name "$name" --warmup 2 --passes "$passes" --counts "$tmp/theirs.tsv" "$data/$patterns" "$data/$events" 2>/dev/null); then
    bad=$(diff "$expected" "$tmp/theirs.tsv" | grep -c '^>' || true)
    ok_b=$([ "$bad" = 0 ] && echo exact || echo "$bad patterns wrong")
    qs=$(echo "$b" | awk '{print $6}')
  else
    qs="n/a"; ok_b="unsupported"
  fi
  es=$(echo "$a" | awk '{print $6}')
  rules=$(echo "$a" | awk '{print $3}')
  ratio=$([ "$qs" = "n/a" ] && echo "–" || awk -v a="$es" -v b="$qs" 'BEGIN{printf "%.2f×", a/b}')
  printf "| %s | %s | %'d | %s | %s | %s | %s |\n" "$name" "$rules" "$es" "$qs" "$ratio" "$ok_a" "$ok_b"
done < "$here/benches/kit/workloads.tsv"
rm -rf "$tmp"
