#!/usr/bin/env bash
# The performance suite: every benchmark of watchfloor, and the Python reference beside it, in
# one run on one machine, then one summary table.
#
#   bench/suite.sh [--quick] [--rounds N]
#
# Builds the release binary, makes a venv with feedparser under target/bench-venv when there is
# none, then runs N rounds (default 3; --quick: 1 round, smaller sizes) of:
#   watchfloor bench match     (shipped indicators, 200 generated variants)
#   bench/reference.py match   (the same items, the same indicators compiled to Python `re`)
#   watchfloor bench ingest    (the corpus replicated to 50 MB; --quick: 10 MB)
#   bench/reference.py ingest  (the same replicated corpus: feedparser, re, sqlite3)
#   bench/poll-cycle.sh 2000   (nginx on 127.0.0.1; --quick: 500 feeds)
#   bench/alert-delivery.sh 1000 (aiosmtpd on 127.0.0.1; --quick: 200 alerts)
# Each round's load average is recorded. The table gives the range over the rounds; the
# ratios are taken within each round (watchfloor and Python run back to back) and their range
# is given. Raw output stays in the folder named at the end (SUITE_KEEP=DIR to choose it).
set -euo pipefail
cd "$(dirname "$0")/.."

rounds=3 quick=0
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
  echo "command     bench/suite.sh $([ "$quick" = 1 ] && echo --quick) --rounds $rounds"
} > "$out/machine.txt"
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

# ---- summary ---------------------------------------------------------------------------------
# field NAME PATTERN COLUMN: that column of the first line matching PATTERN, for every round.
field() {
  local r
  for ((r = 1; r <= rounds; r++)); do
    awk -v p="$2" -v c="$3" '$0 ~ p { print $c; exit }' "$out/$1.$r.txt" 2>/dev/null
  done
}
# The range of numbers on stdin, as "a–b" (or "a" when all agree), with `fmt` decimals.
range() {  # $1: decimals
  sort -g | awk -v d="$1" 'NF { v[n++] = $1 }
    END {
      if (n == 0) { print "?"; exit }
      lo = sprintf("%\047.*f", d, v[0]); hi = sprintf("%\047.*f", d, v[n - 1])
      print (lo == hi ? lo : lo "–" hi)
    }'
}
# ratio A B: per-round A/B from two field lists.
ratio() {
  paste <(echo "$1") <(echo "$2") | awk '$1 != "" && $2 > 0 { print $1 / $2 }'
}

wf_m4=$(field wf-match '^ +4 ' 4) wf_m4mb=$(field wf-match '^ +4 ' 5)
wf_mg=$(for ((r = 1; r <= rounds; r++)); do awk '$1 ~ /^[0-9]+$/ && $1 != 4 { print $4; exit }' "$out/wf-match.$r.txt" 2>/dev/null; done)
wf_mgmb=$(for ((r = 1; r <= rounds; r++)); do awk '$1 ~ /^[0-9]+$/ && $1 != 4 { print $5; exit }' "$out/wf-match.$r.txt" 2>/dev/null; done)
py_m4=$(field py-match '^ +4 ' 4) py_m4mb=$(field py-match '^ +4 ' 5)
py_mg=$(for ((r = 1; r <= rounds; r++)); do awk '$1 ~ /^[0-9]+$/ && $1 != 4 { print $4; exit }' "$out/py-match.$r.txt" 2>/dev/null; done)
py_mgmb=$(for ((r = 1; r <= rounds; r++)); do awk '$1 ~ /^[0-9]+$/ && $1 != 4 { print $5; exit }' "$out/py-match.$r.txt" 2>/dev/null; done)
wf_h4=$(field wf-match '^ +4 ' 6) py_h4=$(field py-match '^ +4 ' 6)
wf_i1=$(field wf-ingest '^ +first ' 4) wf_i1mb=$(field wf-ingest '^ +first ' 5)
wf_i2=$(field wf-ingest '^ +unchanged ' 4) wf_i2mb=$(field wf-ingest '^ +unchanged ' 5)
py_i1=$(field py-ingest '^ +first ' 4) py_i1mb=$(field py-ingest '^ +first ' 5)
py_i2=$(field py-ingest '^ +unchanged ' 4) py_i2mb=$(field py-ingest '^ +unchanged ' 5)
wf_rss=$(field wf-ingest '^peak RSS' 3) py_rss=$(field py-ingest '^peak RSS' 3)
wf_items=$(field wf-ingest '^ +first ' 3 | head -1) py_items=$(field py-ingest '^ +first ' 3 | head -1)
wf_hits=$(field wf-ingest '^ +first ' 7 | head -1) py_hits=$(field py-ingest '^ +first ' 7 | head -1)
docs=$(awk '/^ingest from files/ { for (i = 1; i <= NF; i++) if ($i == "documents,") print $(i - 1) " documents, " $(i + 1) " MB"; exit }' "$out/wf-ingest.1.txt" 2>/dev/null)

{
  echo
  echo "==================== watchfloor performance suite: summary ===================="
  cat "$out/machine.txt"
  echo "load        $(cat "$out"/*.load | awk '{ print $1 }' | range 2) (1-minute load average before each step)"
  echo
  printf '%-46s %-20s %-20s %s\n' "measurement (1 thread unless said)" "watchfloor" "Python reference" "ratio"
  row() {  # label, wf list, py list, decimals
    printf '%-46s %-20s %-20s %s\n' "$1" "$(echo "$2" | range "$4")" "$(echo "$3" | range "$4")" \
      "$(ratio "$2" "$3" | range 1)×"
  }
  row "match, 4 shipped indicators, items/s" "$wf_m4" "$py_m4" 0
  row "match, 4 shipped indicators, MB/s" "$wf_m4mb" "$py_m4mb" 1
  row "match, 200 indicators, items/s" "$wf_mg" "$py_mg" 0
  row "match, 200 indicators, MB/s" "$wf_mgmb" "$py_mgmb" 1
  printf '%-46s %-20s %-20s\n' "match, hits/item (shipped set, same items)" "$(echo "$wf_h4" | range 3)" "$(echo "$py_h4" | range 3)"
  echo "ingest from files: ${docs:-?}"
  row "ingest, first pass (all new), items/s" "$wf_i1" "$py_i1" 0
  row "ingest, first pass, MB/s" "$wf_i1mb" "$py_i1mb" 1
  row "ingest, unchanged pass, items/s" "$wf_i2" "$py_i2" 0
  row "ingest, unchanged pass, MB/s" "$wf_i2mb" "$py_i2mb" 1
  printf '%-46s %-20s %-20s\n' "ingest, items / hits found in the first pass" "${wf_items:-?} / ${wf_hits:-?}" "${py_items:-?} / ${py_hits:-?}"
  printf '%-46s %-20s %-20s\n' "ingest, peak RSS, MB" "$(echo "$wf_rss" | range 0)" "$(echo "$py_rss" | range 0)"
  echo
  echo "poll cycle, $feeds feeds from nginx on 127.0.0.1 (watchfloor poll, all cores):"
  printf '%-46s %-12s %-12s %s\n' "cycle" "wall s" "CPU s" "peak RSS MB"
  for cycle in first 304 unchanged; do
    printf '%-46s %-12s %-12s %s\n' "$cycle" "$(field poll "^$cycle " 2 | range 2)" \
      "$(field poll "^$cycle " 5 | range 2)" "$(field poll "^$cycle " 8 | range 0)"
  done
  echo
  echo "alert delivery, $alerts alerts to aiosmtpd on 127.0.0.1:"
  sent=$(for ((r = 1; r <= rounds; r++)); do sed -n 's/.*in \([0-9.]*\) s wall, \([0-9.]*\) s CPU: \([0-9]*\) messages.*/\1 \2 \3/p' "$out/alerts.$r.txt" 2>/dev/null; done)
  printf '%-46s %s\n' "wall s" "$(echo "$sent" | awk '{ print $1 }' | range 2)"
  printf '%-46s %s\n' "watchfloor CPU s" "$(echo "$sent" | awk '{ print $2 }' | range 2)"
  printf '%-46s %s\n' "messages/s" "$(echo "$sent" | awk '{ print $3 }' | range 0)"
  printf '%-46s %s\n' "server" "$(grep -h '^server:' "$out"/alerts.1.txt 2>/dev/null | cut -d: -f2- | sed 's/^ //')"
  echo
  echo "raw output: $out"
} | tee "$out/summary.txt"
