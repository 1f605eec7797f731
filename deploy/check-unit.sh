#!/usr/bin/env bash
# Checks deploy/ the way CI does (.ci/run calls it); needs systemd-analyze (Debian: systemd).
#
#   deploy/check-unit.sh [--bin PATH]
#
# PATH is a built watchfloor (default: ${CARGO_TARGET_DIR:-target}/debug/watchfloor, built
# with `cargo build --locked` when missing). It checks:
#   1. every directive in deploy/watchfloor.service has a comment line right above it;
#   2. `systemd-analyze verify --man=no` on a copy of the unit whose ExecStart names PATH
#      instead of /usr/bin/watchfloor (verify insists the binary exists, and CI does not
#      install into /usr/bin): any output at all fails, since verify exits 0 on unknown keys;
#   3. `systemd-analyze security --offline=true` scores the unit at most 2.0;
#   4. PATH accepts deploy/watchfloor.yaml as shipped and with every example key uncommented;
#   5. deploy/install.sh --root installs the right files with the right modes, and keeps an
#      edited configuration file on a second run.
set -euo pipefail
cd "$(dirname "$0")/.."

bin=""
while [ $# -gt 0 ]; do
    case "$1" in
        --bin) bin="${2:?--bin needs a path}"; shift 2 ;;
        --bin=*) bin="${1#--bin=}"; shift ;;
        *) echo "check-unit.sh: unknown option '$1'" >&2; exit 2 ;;
    esac
done
if [ -z "$bin" ]; then
    bin="${CARGO_TARGET_DIR:-target}/debug/watchfloor"
    [ -x "$bin" ] || cargo build --locked --bin watchfloor
fi
bin="$(realpath "$bin")"
unit=deploy/watchfloor.service
# Highest overall exposure accepted, as systemd-analyze prints it (0.0 best, 10.0 worst).
max_exposure=2.0

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
fail() { echo "check-unit.sh: FAIL: $*" >&2; exit 1; }

echo "== unit: every directive is commented"
uncommented="$(awk '/^[A-Za-z]/ && prev !~ /^#/ { printf "  line %d: %s\n", NR, $0 } { prev = $0 }' "$unit")"
[ -z "$uncommented" ] || fail "directives without a comment above them in $unit:
$uncommented"

echo "== unit: systemd-analyze verify"
grep -q '^ExecStart=/usr/bin/watchfloor ' "$unit" || fail "ExecStart does not run /usr/bin/watchfloor"
mkdir "$work/unit"
sed "s#^ExecStart=/usr/bin/watchfloor #ExecStart=$bin #" "$unit" > "$work/unit/watchfloor.service"
verify_out="$(systemd-analyze verify --man=no "$work/unit/watchfloor.service" 2>&1)" \
    || fail "systemd-analyze verify exited non-zero:
$verify_out"
[ -z "$verify_out" ] || fail "systemd-analyze verify printed (every message is a problem):
$verify_out"
echo "   clean"

echo "== unit: systemd-analyze security --offline=true"
# --threshold counts tenths in systemd 252 (20 means an exposure of 2.0), so the printed
# score is compared here as well, whatever the scale of the installed version.
security_out="$(systemd-analyze security --offline=true --threshold=20 "$work/unit/watchfloor.service" 2>&1)" \
    || { echo "$security_out"; fail "systemd-analyze security: exposure above $max_exposure"; }
echo "$security_out" | grep '✗' || true
exposure="$(echo "$security_out" | sed -n 's/.*Overall exposure level for watchfloor.service: \([0-9.]*\).*/\1/p')"
[ -n "$exposure" ] || { echo "$security_out"; fail "no overall exposure in the output"; }
echo "   exposure $exposure (at most $max_exposure)"
awk -v e="$exposure" -v m="$max_exposure" 'BEGIN { exit !(e <= m) }' \
    || fail "exposure $exposure is above $max_exposure"

echo "== settings: deploy/watchfloor.yaml against $bin"
# Runs `feeds` (reads the settings and the indicators, opens a fresh database) in a clean
# environment so no WATCHFLOOR_* variable of the caller hides a bad key.
check_settings() { # check_settings FILE
    env -i PATH=/usr/bin:/bin HOME="$work" "$bin" --config "$1" --indicators indicators.yaml \
        --db "$work/settings-$RANDOM.db" feeds >/dev/null
}
# Every example in comments enabled: "# key:" at the top and "#   key:" in a section become
# keys. password_file, ca_file, token_file and basic_auth_file name files that exist only on
# a real machine.
uncomment_examples() {
    sed -E 's/^# ([a-z_]+:( |$))/\1/; s/^#   ([a-z_]+:( |$))/  \1/; s/^  # ([a-z_]+: )/  \1/' \
        | grep -Ev '^ *(password_file|ca_file|token_file|basic_auth_file):'
}
for variant in shipped examples; do
    if [ "$variant" = shipped ]; then
        cp deploy/watchfloor.yaml "$work/$variant.yaml"
    else
        uncomment_examples < deploy/watchfloor.yaml > "$work/$variant.yaml"
    fi
    check_settings "$work/$variant.yaml" 2>"$work/err" \
        || { cat "$work/err" >&2; fail "the built daemon refuses deploy/watchfloor.yaml ($variant)"; }
    echo "   $variant: accepted"
done

echo "== install: deploy/install.sh --root"
dest="$work/root"
deploy/install.sh --root "$dest" --bin "$bin" >"$work/install.log" \
    || { cat "$work/install.log"; fail "install.sh --root failed"; }
expect() { # expect MODE PATH [SAME-AS]
    [ -f "$dest$2" ] || fail "install.sh did not install $2"
    local mode
    mode="$(stat -c %a "$dest$2")"
    [ "$mode" = "$1" ] || fail "$2 has mode $mode, not $1"
    [ -z "${3:-}" ] || cmp -s "$3" "$dest$2" || fail "$2 differs from $3"
}
expect 755 /usr/bin/watchfloor "$bin"
expect 644 /lib/systemd/system/watchfloor.service "$unit"
expect 644 /etc/watchfloor/watchfloor.yaml deploy/watchfloor.yaml
expect 644 /etc/watchfloor/indicators.yaml indicators.yaml
expect 644 /usr/share/doc/watchfloor/README.md README.md
expect 644 /usr/share/bash-completion/completions/watchfloor
expect 644 /usr/share/zsh/vendor-completions/_watchfloor
expect 644 /usr/share/fish/vendor_completions.d/watchfloor.fish
expect 644 /usr/share/man/man1/watchfloor.1.gz
expect 644 /usr/share/man/man1/watchfloor-feeds-add.1.gz
zcat "$dest/usr/share/man/man1/watchfloor.1.gz" | grep -q '^\.TH watchfloor 1' || fail "watchfloor.1 is not a manual page"
bash -n "$dest/usr/share/bash-completion/completions/watchfloor" || fail "the bash completion script does not parse"
[ "$(stat -c %a "$dest/etc/watchfloor")" = 755 ] || fail "/etc/watchfloor is not 0755"
grep -q 'skipping systemctl' "$work/install.log" || fail "install.sh --root did not skip systemctl"
# A second run keeps the operator's edits and tightens a loose password file.
echo "mail: {from: ops@example.org}" > "$dest/etc/watchfloor/watchfloor.yaml"
echo "secret" > "$dest/etc/watchfloor/smtp-password"
chmod 0644 "$dest/etc/watchfloor/smtp-password"
deploy/install.sh --root "$dest" --bin "$bin" >"$work/install.log" \
    || { cat "$work/install.log"; fail "install.sh --root failed on a second run"; }
grep -q 'ops@example.org' "$dest/etc/watchfloor/watchfloor.yaml" \
    || fail "a second install overwrote an edited watchfloor.yaml"
expect 644 /etc/watchfloor/watchfloor.yaml.dist deploy/watchfloor.yaml
expect 600 /etc/watchfloor/smtp-password
[ ! -e "$dest/etc/watchfloor/indicators.yaml.dist" ] || fail "an unchanged indicators.yaml got a .dist copy"
echo "   files and modes as documented; edits kept"

echo "== deploy/ checks passed (exposure $exposure)"
