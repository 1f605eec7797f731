#!/usr/bin/env bash
# Alert delivery benchmark: N pending alerts (default 1000), one message each, delivered by
# the dispatcher to a real SMTP server (aiosmtpd) on 127.0.0.1; prints the time and the
# number of SMTP connections the server saw.
#
#   bench/alert-delivery.sh [COUNT]
set -euo pipefail
cd "$(dirname "$0")/.."
count="${1:-1000}"
python="${WATCHFLOOR_TEST_PYTHON:-/usr/bin/python3}"
if ! "$python" -c 'import aiosmtpd' 2>/dev/null; then
    echo "aiosmtpd is missing: apt-get install python3-aiosmtpd (or set WATCHFLOOR_TEST_PYTHON)" >&2
    exit 1
fi
binary="${CARGO_TARGET_DIR:-target}/release/watchfloor"
cargo build --release --quiet
work="$(mktemp -d)"
trap 'kill "$server" 2>/dev/null || true; rm -rf "$work"' EXIT
port="$("$python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
PYTHONPATH=tests/support "$python" -m aiosmtpd -n -l "127.0.0.1:$port" -c smtp_handler.Handler \
    "$work/maildir" 2>"$work/server.log" &
server=$!
for _ in $(seq 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
    sleep 0.1
done
WATCHFLOOR_SMTP_URL="smtp://127.0.0.1:$port" WATCHFLOOR_MAIL_TLS=none \
    WATCHFLOOR_MAIL_TO=analyst@example.org RUST_LOG=warn \
    "$binary" bench alerts --count "$count"
echo "server: $(ls "$work/maildir/new" | wc -l) messages received over $(cat "$work/sessions") SMTP connections (one per batch of up to 200)"
