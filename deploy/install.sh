#!/usr/bin/env bash
# Installs watchfloor as a systemd service from a source checkout: the same files, paths and
# modes as the .deb (`cargo deb`), then daemon-reload and enable --now.
#
#   sudo deploy/install.sh                 build (cargo build --release --locked), install, start;
#                                          root needs cargo then: else build as yourself, use --bin
#   deploy/install.sh --root DIR           install under DIR only (no systemctl, no root needed);
#                                          deploy/check-unit.sh tests the script this way
#   options: --bin PATH  install this binary instead of building one
#            --no-start  install and daemon-reload, but do not enable or start
#
# Files:
#   /usr/bin/watchfloor                        0755
#   /lib/systemd/system/watchfloor.service     0644
#   /etc/watchfloor/watchfloor.yaml            0644  kept if it exists (the new one goes
#   /etc/watchfloor/indicators.yaml            0644  beside it as NAME.dist when they differ)
#   /usr/share/doc/watchfloor/README.md        0644
#   /usr/share/bash-completion/completions/watchfloor, /usr/share/zsh/vendor-completions/
#   _watchfloor, /usr/share/fish/vendor_completions.d/watchfloor.fish, and the manual pages
#   /usr/share/man/man1/watchfloor*.1.gz               0644  (made by the binary installed)
#   /etc/watchfloor/smtp-password is never written; when present it is set to root, 0600.
# The database lives in /var/lib/watchfloor, made by systemd at the first start.
set -euo pipefail
cd "$(dirname "$0")/.."

root=/
bin=""
start=yes

usage() { sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; }

while [ $# -gt 0 ]; do
    case "$1" in
        --root) root="${2:?--root needs a directory}"; shift 2 ;;
        --root=*) root="${1#--root=}"; shift ;;
        --bin) bin="${2:?--bin needs a path}"; shift 2 ;;
        --bin=*) bin="${1#--bin=}"; shift ;;
        --no-start) start=no; shift ;;
        -h|--help) usage; exit 0 ;;
        *) echo "install.sh: unknown option '$1'" >&2; usage >&2; exit 2 ;;
    esac
done

live=no
if [ "$root" = / ]; then
    live=yes
    if [ "$(id -u)" != 0 ]; then
        echo "install.sh: installing into / needs root (sudo), or use --root DIR" >&2
        exit 1
    fi
fi
root="${root%/}"

if [ -z "$bin" ]; then
    echo "== building (cargo build --release --locked)"
    cargo build --release --locked
    bin="${CARGO_TARGET_DIR:-target}/release/watchfloor"
fi
[ -x "$bin" ] || { echo "install.sh: no executable at $bin" >&2; exit 1; }

# Owned by root when we are root; as another user (a --root test) files keep our owner.
own=()
[ "$(id -u)" = 0 ] && own=(-o root -g root)

put() { # put MODE SOURCE DEST
    install -D -m "$1" "${own[@]}" "$2" "$root$3"
    echo "   $3 ($1)"
}

# A configuration file the operator may have edited: never overwritten (as dpkg does with
# conffiles); a different new version is left beside it for them to merge.
put_conf() { # put_conf SOURCE DEST
    local dest="$root$2"
    if [ ! -e "$dest" ]; then
        put 0644 "$1" "$2"
    elif cmp -s "$1" "$dest"; then
        echo "   $2 (unchanged)"
    else
        install -m 0644 "${own[@]}" "$1" "$dest.dist"
        echo "   $2 kept as you edited it; the shipped version is $2.dist"
    fi
}

echo "== installing into $root/"
put 0755 "$bin" /usr/bin/watchfloor
put 0644 deploy/watchfloor.service /lib/systemd/system/watchfloor.service
install -d -m 0755 "${own[@]}" "$root/etc/watchfloor"
put_conf deploy/watchfloor.yaml /etc/watchfloor/watchfloor.yaml
put_conf indicators.yaml /etc/watchfloor/indicators.yaml
put 0644 README.md /usr/share/doc/watchfloor/README.md

# Completions and manual pages are made by the binary being installed, so they describe it.
generated="$(mktemp -d)"
trap 'rm -rf "$generated"' EXIT
"$bin" completions bash >"$generated/watchfloor.bash"
"$bin" completions zsh >"$generated/_watchfloor"
"$bin" completions fish >"$generated/watchfloor.fish"
put 0644 "$generated/watchfloor.bash" /usr/share/bash-completion/completions/watchfloor
put 0644 "$generated/_watchfloor" /usr/share/zsh/vendor-completions/_watchfloor
put 0644 "$generated/watchfloor.fish" /usr/share/fish/vendor_completions.d/watchfloor.fish
"$bin" man --dir "$generated/man1"
for page in "$generated"/man1/*.1; do
    gzip -9n "$page"
    put 0644 "$page.gz" "/usr/share/man/man1/$(basename "$page").gz"
done

secret="$root/etc/watchfloor/smtp-password"
if [ -e "$secret" ]; then
    chmod 0600 "$secret"
    [ "$(id -u)" = 0 ] && chown root:root "$secret"
    echo "   /etc/watchfloor/smtp-password (0600, left as it is otherwise)"
fi

if [ "$live" = no ]; then
    echo "== not the live system: skipping systemctl daemon-reload and enable --now"
    exit 0
fi
if [ ! -d /run/systemd/system ]; then
    echo "== systemd is not running here: files installed, nothing started"
    exit 0
fi

was_active=no
systemctl is-active --quiet watchfloor && was_active=yes
echo "== systemctl daemon-reload"
systemctl daemon-reload
if [ "$start" = no ]; then
    echo "== not starting (--no-start): systemctl enable --now watchfloor when ready"
    exit 0
fi
echo "== systemctl enable --now watchfloor"
if ! systemctl enable --now watchfloor; then
    systemctl --no-pager status watchfloor || true
    echo "install.sh: watchfloor did not start; see journalctl -u watchfloor" >&2
    exit 1
fi
if [ "$was_active" = yes ]; then
    echo "== systemctl restart watchfloor (it was running the old binary)"
    systemctl restart watchfloor
fi
systemctl --no-pager status watchfloor || true
