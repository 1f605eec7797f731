#!/usr/bin/env bash
# Poll-cycle benchmark: 2,000 feeds served by nginx on 127.0.0.1, polled by `watchfloor poll`.
#
# Three cycles, each timed with /usr/bin/time (wall time, CPU time, peak RSS):
#   first      every feed new (all items parsed, matched, stored)
#   304        every feed answers 304 Not Modified (conditional GET)
#   unchanged  every feed answers 200 with the same content (parsed, recognised as seen,
#              nothing rewritten)
#
# Usage: bench/poll-cycle.sh [FEEDS]   (default 2000; needs root or nginx installed)
#
# With R2E set to an rss2email 3 executable (e.g. from `pip install rss2email` in a venv), the
# same cycles are run with `r2e run --no-send` too, side by side.
set -euo pipefail
cd "$(dirname "$0")/.."
feeds=${1:-2000}
corpus=../shared/corpus/feeds
port=18089
work=$(mktemp -d /tmp/watchfloor-poll-cycle.XXXXXX)
trap 'kill "$(cat "$work/nginx.pid" 2>/dev/null)" 2>/dev/null || true; rm -rf "$work"' EXIT
chmod 755 "$work"

if ! command -v nginx >/dev/null && [ ! -x /usr/sbin/nginx ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nginx-light >/dev/null
fi
nginx_bin=$(command -v nginx || echo /usr/sbin/nginx)

cargo build --release --locked -q
bin=${CARGO_TARGET_DIR:-target}/release/watchfloor

# Feed files: the well-formed corpus files, cycled to $feeds, each given its own hosts so every
# feed's items are distinct stories.
mkdir -p "$work/www/c" "$work/www/u"
mapfile -t files < <(ls "$corpus" | grep -v '^MALFORMED-' | grep -E '\.(xml|json)$')
for ((i = 0; i < feeds; i++)); do
  f=${files[$((i % ${#files[@]}))]}
  # Format identifiers (namespaces, the JSON Feed version) keep their hosts.
  sed -e "s#://#://h$i.#g" -e "s#:\\\\/\\\\/#:\\\\/\\\\/h$i.#g" \
    -e "s#h$i\.\(www\.w3\.org\|purl\.org\|my\.netscape\.com\|jsonfeed\.org\|backend\.userland\.com\|web\.resource\.org\)#\1#g" \
    "$corpus/$f" > "$work/www/c/$i.${f##*.}"
done
cp -r "$work/www/c/." "$work/www/u/"

cat > "$work/nginx.conf" <<NGINX
daemon on;
pid $work/nginx.pid;
worker_processes 2;
error_log $work/error.log;
events { worker_connections 4096; }
http {
  access_log off;
  types { application/rss+xml xml; application/feed+json json; }
  server {
    listen 127.0.0.1:$port;
    root $work/www;
    # /c/: ETag and Last-Modified, so a second poll gets 304.
    location /c/ { etag on; }
    # /u/: no validators, so every poll gets 200 with the same content.
    location /u/ { etag off; if_modified_since off; add_header Last-Modified ""; }
  }
}
NGINX
"$nginx_bin" -c "$work/nginx.conf"

make_config() {  # $1: c or u
  sed '/^feeds:/,$d' indicators.yaml > "$work/indicators-$1.yaml"
  echo "feeds:" >> "$work/indicators-$1.yaml"
  for ((i = 0; i < feeds; i++)); do
    f=${files[$((i % ${#files[@]}))]}
    echo "  - {id: f$i, url: 'http://127.0.0.1:$port/$1/$i.${f##*.}'}" >> "$work/indicators-$1.yaml"
  done
}
make_config c
make_config u

cycle() {  # $1: label, $2: c or u, $3: database
  /usr/bin/time -f "%e %U %S %M" -o "$work/time" \
    "$bin" --indicators "$work/indicators-$2.yaml" --db "$3" --log-level error poll > "$work/out" || true
  read -r wall user sys rss < <(tail -1 "$work/time")
  printf '%-10s %8.2f s wall %8.2f s CPU %6d MB peak RSS   %s\n' "$1" "$wall" \
    "$(echo "$user + $sys" | bc)" $((rss / 1024)) "$(tail -1 "$work/out")"
  grep -m 2 "^FAIL" "$work/out" || true
}

echo "poll cycle: $feeds feeds from nginx on 127.0.0.1 ($(nproc) cores)"
cycle first c "$work/c.db"
cycle 304 c "$work/c.db"
cycle first u "$work/u.db" > /dev/null
cycle unchanged u "$work/u.db"

if [ -n "${R2E:-}" ]; then
  r2e_config() {  # $1: c or u
    "$R2E" -c "$work/r2e-$1.cfg" -d "$work/r2e-$1.json" new bench@example.org > /dev/null 2>&1
    sed -i 's/^verbose = .*/verbose = error/' "$work/r2e-$1.cfg"
    {
      printf '{"version": 2, "feeds": ['
      for ((i = 0; i < feeds; i++)); do
        [ "$i" -gt 0 ] && printf ','
        printf '{"name": "f%d", "etag": null, "modified": null, "seen": {}}' "$i"
      done
      printf ']}\n'
    } > "$work/r2e-$1.json"
    for ((i = 0; i < feeds; i++)); do
      f=${files[$((i % ${#files[@]}))]}
      printf '[feed.f%d]\nurl = http://127.0.0.1:%d/%s/%d.%s\n' "$i" "$port" "$1" "$i" "${f##*.}"
    done >> "$work/r2e-$1.cfg"
  }
  r2e_cycle() {  # $1: label, $2: c or u
    /usr/bin/time -f "%e %U %S %M" -o "$work/time" \
      "$R2E" -c "$work/r2e-$2.cfg" -d "$work/r2e-$2.json" run --no-send > /dev/null 2>&1 || true
    read -r wall user sys rss < <(tail -1 "$work/time")
    printf 'rss2email %-10s %8.2f s wall %8.2f s CPU %6d MB peak RSS\n' "$1" "$wall" \
      "$(echo "$user + $sys" | bc)" $((rss / 1024))
  }
  echo "the same with $("$R2E" --version 2>&1 | head -1)"
  r2e_config c
  r2e_config u
  r2e_cycle first c
  r2e_cycle 304 c
  r2e_cycle first u > /dev/null
  r2e_cycle unchanged u
fi
