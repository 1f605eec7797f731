#!/usr/bin/env bash
# Builds the .deb (cargo install cargo-deb first): the release binary, then the completion
# scripts and manual pages it makes of itself into target/assets/, then `cargo deb`, whose
# asset list in Cargo.toml names them. `cargo deb` alone would miss those files.
set -euo pipefail
cd "$(dirname "$0")/.."
target="${CARGO_TARGET_DIR:-target}"
cargo build --release --locked
bin="$target/release/watchfloor"
assets="$target/assets"
rm -rf "$assets"
mkdir -p "$assets/man1"
"$bin" completions bash >"$assets/watchfloor.bash"
"$bin" completions zsh >"$assets/_watchfloor"
"$bin" completions fish >"$assets/watchfloor.fish"
"$bin" man --dir "$assets/man1"
gzip -9n "$assets"/man1/*.1
cargo deb --no-build "$@"
