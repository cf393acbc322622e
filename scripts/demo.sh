#!/bin/sh
# make demo: build an installer and an ISO from examples/demo, check them,
# install into a temporary folder and run the installed app.
set -eu
cd "$(dirname "$0")/.."
work=$(mktemp -d "${TMPDIR:-/tmp}/terrapack-demo.XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM
step() { printf '\n==> %s\n' "$*"; }

step "build an installer and an ISO image from examples/demo"
bin/terrapack build examples/demo -o "$work/demo.run" --iso "$work/demo.iso"

step "describe the installer and the paths it will rewrite"
bin/terrapack inspect --relocations "$work/demo.run"

step "verify the ISO image (SHA256SUMS and the installer's own checksum)"
bin/terrapack verify "$work/demo.iso"

step "install: $work/demo.run --to $work/opt/demo"
"$work/demo.run" --to "$work/opt/demo"

step "run the installed app: its config now names the install folder"
"$work/opt/demo/bin/demo"
"$work/opt/demo/bin/demo-info"

step "the customer tunes the config and the app writes data; then version 1.1.0 comes"
echo "# tuned by the customer" >>"$work/opt/demo/etc/demo.conf"
mkdir -p "$work/opt/demo/var" && echo "42 visits" >"$work/opt/demo/var/counter"
bin/terrapack build examples/demo -o "$work/demo-1.1.run" --version 1.1.0 --quiet
"$work/demo-1.1.run" --to "$work/opt/demo" --force --dry-run

step "upgrade: $work/demo-1.1.run --to $work/opt/demo --force"
"$work/demo-1.1.run" --to "$work/opt/demo" --force
tail -n 1 "$work/opt/demo/etc/demo.conf" "$work/opt/demo/var/counter"

step "the same installer again: nothing to do"
"$work/demo-1.1.run" --to "$work/opt/demo" --force

step "done: everything above ran from $work, now removed"
