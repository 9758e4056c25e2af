#!/usr/bin/env bash
# Side-by-side, same run: Eventyard's matcher and the `quamina` crate 0.7.0 on every
# workload, alternating engines ROUNDS times per workload so machine noise hits both
# alike; each engine's best round is reported (the machine is shared and noisy).
#   scripts/compare-quamina.sh [DATA_DIR] [PASSES] [ROUNDS]
# Prints a Markdown table: workload, rules, Eventyard ev/s, quamina ev/s, ratio, counts check.
set -euo pipefail
examples="match_bench quamina_bench"
# shellcheck source=scripts/bench-common.sh
source "$(dirname "$0")/bench-common.sh"
rounds="${3:-3}"
ours="$target/release/examples/match_bench"
theirs="$target/release/examples/quamina_bench"
tmp="$(mktemp -d)"
echo "| workload | rules | Eventyard ev/s | quamina 0.7.0 ev/s | ratio | Eventyard counts | quamina counts |"
echo "|---|---:|---:|---:|---:|---|---|"
while IFS=$'\t' read -r name patterns events _class; do
  case "$name" in '#'*|'') continue ;; esac
  expected="$here/benches/kit/expected-counts/$name.tsv"
  es=0; qs=0; ok_a=exact; ok_b=exact
  for _ in $(seq "$rounds"); do
    a=$("$ours" --name "$name" --warmup 2 --passes "$passes" --counts "$tmp/ours.tsv" "$data/$patterns" "$data/$events" 2>/dev/null)
    diff -q "$expected" "$tmp/ours.tsv" >/dev/null || ok_a="DIFFER"
    es=$(echo "$a" | awk -v best="$es" '{print ($6 > best) ? $6 : best}')
    if [ "$qs" != "n/a" ] && b=$("$theirs" --name "$name" --warmup 2 --passes "$passes" --counts "$tmp/theirs.tsv" "$data/$patterns" "$data/$events" 2>/dev/null); then
      bad=$(diff "$expected" "$tmp/theirs.tsv" | grep -c '^>' || true)
      [ "$bad" = 0 ] || ok_b="$bad patterns wrong"
      qs=$(echo "$b" | awk -v best="$qs" '{print ($6 > best) ? $6 : best}')
    else
      qs="n/a"; ok_b="unsupported"
    fi
  done
  rules=$(echo "$a" | awk '{print $3}')
  ratio=$([ "$qs" = "n/a" ] && echo "–" || awk -v a="$es" -v b="$qs" 'BEGIN{printf "%.2f×", a/b}')
  printf "| %s | %s | %s | %s | %s | %s | %s |\n" "$name" "$rules" "$es" "$qs" "$ratio" "$ok_a" "$ok_b"
done < "$here/benches/kit/workloads.tsv"
rm -rf "$tmp"
