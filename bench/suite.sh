#!/usr/bin/env bash
# The performance suite: every benchmark of watchfloor, and the Python reference beside it, in
# one run on one machine, then one summary table.
#
#   bench/suite.sh [--quick] [--rounds N]
#
# Builds the release binary, makes a venv with feedparser under target/bench-venv when there is
# none, then runs N rounds (default 2; --quick: 1 round, smaller sizes) of:
#   watchfloor bench match     (shipped indicators, 200 generated variants)
#   bench/reference.py match   (the same items, the same indicators compiled to Python `re`)
#   watchfloor bench ingest    (the corpus replicated to 50 MB; --quick: 10 MB)
#   bench/reference.py ingest  (the same replicated corpus: feedparser, re, sqlite3)
#   bench/poll-cycle.sh 2000   (nginx on 127.0.0.1; --quick: 500 feeds)
#   bench/alert-delivery.sh 1000 (aiosmtpd on 127.0.0.1; --quick: 200 alerts)
# Each round's load average is recorded. The table gives the range over the rounds (a-b); the
# ratios are taken within each round (watchfloor and Python run back to back) and their range
# is given. Raw output stays in the folder named at the end (SUITE_KEEP=DIR to choose it);
# SUITE_SUMMARY_ONLY=DIR prints the summary of such a folder again without running anything.
set -euo pipefail
cd "$(dirname "$0")/.."

rounds=2 quick=0
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) quick=1 rounds=1 ;;
    --rounds) rounds=$2; shift ;;
    *) echo "usage: bench/suite.sh [--quick] [--rounds N]" >&2; exit 2 ;;
  esac
  shift
done
if [ "$quick" = 1 ]; then
  match_items=50000 py_seconds=3 megabytes=10 feeds=500 alerts=200
else
  match_items=300000 py_seconds=10 megabytes=50 feeds=2000 alerts=1000
fi

if [ -n "${SUITE_SUMMARY_ONLY:-}" ]; then
  out=$SUITE_SUMMARY_ONLY
  rounds=$(find "$out" -name 'wf-match.*.txt' | wc -l)
  [ "$(cat "$out/quick" 2>/dev/null)" = 1 ] && feeds=500 alerts=200
else
out=${SUITE_KEEP:-$(mktemp -d /tmp/watchfloor-suite.XXXXXX)}
mkdir -p "$out"
target=${CARGO_TARGET_DIR:-target}
bin=$target/release/watchfloor
venv=$target/bench-venv

echo "== building release"
cargo build --release --locked -q
if ! "$venv/bin/python" -c 'import feedparser' 2>/dev/null; then
  echo "== making $venv with feedparser"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q feedparser
fi

load() { cut -d' ' -f1-3 /proc/loadavg; }

{
  echo "date        $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo "commit      $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- src bench || echo ' (with local changes)')"
  echo "cpu         $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
  echo "memory      $(awk '/MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo)"
  echo "kernel      $(uname -sr)"
  echo "rustc       $(rustc --version)"
  echo "python      $("$venv/bin/python" --version 2>&1), feedparser $("$venv/bin/python" -c 'import feedparser; print(feedparser.__version__)'), SQLite $("$venv/bin/python" -c 'import sqlite3; print(sqlite3.sqlite_version)')"
  echo "command     bench/suite.sh$([ "$quick" = 1 ] && echo ' --quick') --rounds $rounds"
} > "$out/machine.txt"
echo "$quick" > "$out/quick"
cat "$out/machine.txt"

step() {  # $1: name, $2: round, then the command
  local name=$1 round=$2
  shift 2
  echo "== round $round: $name (load $(load))"
  echo "$(load)" > "$out/$name.$round.load"
  "$@" > "$out/$name.$round.txt" 2>"$out/$name.$round.err" || {
    echo "   failed; see $out/$name.$round.err" >&2
    tail -3 "$out/$name.$round.err" >&2
  }
  cat "$out/$name.$round.txt"
}

for ((r = 1; r <= rounds; r++)); do
  step wf-match "$r" "$bin" bench match --items "$match_items" --dump-items "$out/items.jsonl"
  step py-match "$r" "$venv/bin/python" bench/reference.py match \
    --items-file "$out/items.jsonl" --seconds "$py_seconds"
  step wf-ingest "$r" "$bin" bench ingest --megabytes "$megabytes"
  step py-ingest "$r" "$venv/bin/python" bench/reference.py ingest --megabytes "$megabytes"
  step poll "$r" bench/poll-cycle.sh "$feeds"
  step alerts "$r" bench/alert-delivery.sh "$alerts"
done
fi

# ---- summary ---------------------------------------------------------------------------------
# pick NAME CONDITION EXPRESSION: for every round, EXPRESSION on the first line of NAME's output
# where CONDITION holds (awk).
pick() {
  local r
  for ((r = 1; r <= rounds; r++)); do
    awk "($2) { print ($3); exit }" "$out/$1.$r.txt" 2>/dev/null || true
  done
}
# The range of the numbers on stdin, "a–b" (or "a" when they agree), with $1 decimals.
range() {
  sort -g | awk -v d="$1" 'NF { v[n++] = $1 }
    END {
      if (n == 0) { print "?"; exit }
      lo = sprintf("%\047.*f", d, v[0]); hi = sprintf("%\047.*f", d, v[n - 1])
      print (lo == hi ? lo : lo "-" hi)
    }'
}
# Per-round quotients of two lists of numbers (one a line), for the ratios.
ratio() {
  paste <(echo "$1") <(echo "$2") | awk '$1 != "" && $2 > 0 { print $1 / $2 }'
}
shipped='$1 == 4 && $2 ~ /^[0-9]+$/'
generated='$1 ~ /^[0-9]+$/ && $1 != 4 && $2 ~ /^[0-9]+$/'
first='$1 == "first"'
unchanged='$1 == "unchanged"'

{
  echo
  echo "==================== watchfloor performance suite: summary ===================="
  cat "$out/machine.txt"
  echo "load        $(cat "$out"/*.load | awk '{ print $1 }' | range 2) (1-minute load average before each step, on $(nproc) cores)"
  echo
  echo "Wall-clock rates, and rates per CPU-second (what one core does when it gets to run: less"
  echo "disturbed by other jobs than the wall clock, not undisturbed)."
  printf '%-44s %-19s %-19s %s\n' "measurement (1 thread)" "watchfloor" "Python reference" "ratio"
  row() {  # label, name (match or ingest), condition, expression, decimals
    local wf py
    wf=$(pick "wf-$2" "$3" "$4") py=$(pick "py-$2" "$3" "$4")
    printf '%-44s %-19s %-19s %s\n' "$1" "$(echo "$wf" | range "$5")" "$(echo "$py" | range "$5")" \
      "$(ratio "$wf" "$py" | range 1)x"
  }
  row "match, 4 shipped indicators, items/s" match "$shipped" '$4' 0
  row "  MB/s" match "$shipped" '$5' 1
  row "  items per CPU-second" match "$shipped" '$4 * $3 / $7' 0
  row "match, 200 indicators, items/s" match "$generated" '$4' 0
  row "  MB/s" match "$generated" '$5' 1
  row "  items per CPU-second" match "$generated" '$4 * $3 / $7' 0
  printf '%-44s %-19s %-19s\n' "match, hits/item, shipped / 200" \
    "$(pick wf-match "$shipped" '$6' | head -1) / $(pick wf-match "$generated" '$6' | head -1)" \
    "$(pick py-match "$shipped" '$6' | head -1) / $(pick py-match "$generated" '$6' | head -1)"
  echo "ingest from files, 4 shipped indicators: $(awk '/^ingest from files/ { for (i = 1; i <= NF; i++) if ($i == "documents,") print $(i - 1) " documents, " $(i + 1) " MB"; exit }' "$out/wf-ingest.1.txt" 2>/dev/null)"
  row "ingest, first pass (all new), items/s" ingest "$first" '$4' 0
  row "  MB/s" ingest "$first" '$5' 1
  row "  items per CPU-second" ingest "$first" '$3 / $9' 0
  row "ingest, unchanged pass, items/s" ingest "$unchanged" '$4' 0
  row "  MB/s" ingest "$unchanged" '$5' 1
  row "  items per CPU-second" ingest "$unchanged" '$3 / $9' 0
  printf '%-44s %-19s %-19s\n' "ingest, items / hits / failed documents" \
    "$(pick wf-ingest "$first" '$3 " / " $7 " / " $8' | head -1)" \
    "$(pick py-ingest "$first" '$3 " / " $7 " / " $8' | head -1)"
  printf '%-44s %-19s %-19s\n' "ingest, peak RSS, MB" \
    "$(pick wf-ingest '/^peak RSS/' '$3' | range 0)" "$(pick py-ingest '/^peak RSS/' '$3' | range 0)"
  printf '%-44s %s\n' "watchfloor first pass by stage, s" \
    "$(pick wf-ingest '/^first pass by stage/' '$(NF - 9) " parse, " $(NF - 6) " match, " $(NF - 1) " store"' | paste -sd';' | sed 's/;/; /g')"
  echo
  echo "poll cycle, $feeds feeds from nginx on 127.0.0.1 (watchfloor poll, 16 requests in flight):"
  printf '%-44s %-19s %-19s %s\n' "cycle" "wall s" "CPU s" "peak RSS MB"
  for cycle in first 304 unchanged; do
    printf '%-44s %-19s %-19s %s\n' "$cycle" "$(pick poll "\$1 == \"$cycle\"" '$2' | range 2)" \
      "$(pick poll "\$1 == \"$cycle\"" '$5' | range 2)" "$(pick poll "\$1 == \"$cycle\"" '$8' | range 0)"
  done
  echo
  echo "alert delivery, $alerts alerts, one message each, to aiosmtpd on 127.0.0.1:"
  printf '%-44s %s\n' "wall s" "$(pick alerts '$1 == "sent"' '$6' | range 2)"
  printf '%-44s %s\n' "watchfloor CPU s" "$(pick alerts '$1 == "sent"' '$9' | range 2)"
  printf '%-44s %s\n' "messages/s" "$(pick alerts '$1 == "sent"' '$12' | range 0)"
  printf '%-44s %s\n' "sent / failed (first round)" "$(pick alerts '$1 == "sent"' '$2 " " $4' | head -1 | sed 's/,//g; s/ / \/ /')"
  printf '%-44s %s\n' "server" "$(grep -h '^server:' "$out/alerts.1.txt" 2>/dev/null | cut -d: -f2- | sed 's/^ //')"
  echo
  echo "raw output: $out"
} | tee "$out/summary.txt"
