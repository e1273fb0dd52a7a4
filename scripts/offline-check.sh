#!/usr/bin/env bash
# `caddy liveness check` with vendor local, as a new user on a machine with
# no network would run it: an empty HOME, an empty working directory, no
# network namespace (unshare -n, where the user may), and under strace
# (where installed) no socket is opened and no file but the config and the
# images is read besides what any Go program reads at start (/proc, /sys,
# /etc, the binary). T1 must be live, F1 and F2 spoof.
# Usage: scripts/offline-check.sh ./caddy
set -euo pipefail
caddy="$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
faces="$here/vendors/local/preproc/testdata/local-model/faces"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/home" "$tmp/work"
cp "$here/examples/Caddyfile" "$faces"/minivision_image_{T1,F1,F2}.jpg "$tmp/work/"
cd "$tmp/work"

wrap=(env -i "HOME=$tmp/home" PATH=/usr/bin:/bin)
if unshare -n true 2>/dev/null; then
	wrap+=(unshare -n)
else
	echo "offline-check: unshare -n not permitted here; running with the network namespace as is"
fi
trace=()
if command -v strace >/dev/null; then
	trace=(strace -f -qq -e trace=openat,open,connect,socket -o "$tmp/trace")
else
	echo "offline-check: strace not installed; file and socket use not traced"
fi

run() { # file expected-exit expected-verdict
	local out rc=0
	out="$("${trace[@]}" "${wrap[@]}" "$caddy" liveness check --config Caddyfile --json "$1" 2>"$tmp/stderr")" || rc=$?
	if [ "$rc" != "$2" ] || ! grep -q "\"verdict\":\"$3\"" <<<"$out"; then
		echo "offline-check: $1: exit $rc, want $2 with verdict $3"; echo "$out"; cat "$tmp/stderr"; exit 1
	fi
	if [ "${#trace[@]}" -gt 0 ]; then
		if grep -E '(connect|socket)\(' "$tmp/trace"; then
			echo "offline-check: $1: a socket was opened"; exit 1
		fi
		# Every file opened by the check, without the ones every
		# (Go) program opens.
		local other
		other="$(grep -oE 'open(at)?\([^"]*"[^"]*"' "$tmp/trace" | sed -E 's/.*"([^"]*)"/\1/' |
			grep -vE '^(/proc/|/sys/|/etc/|/lib|/usr/lib|/usr/share/locale|Caddyfile$|minivision_image_..\.jpg$)' |
			grep -vxF "$caddy" || true)"
		if [ -n "$other" ]; then
			echo "offline-check: $1: opened other files:"; echo "$other"; exit 1
		fi
	fi
	echo "offline-check: $1: $3 (exit $rc)"
}
run minivision_image_T1.jpg 0 live
run minivision_image_F1.jpg 1 spoof
run minivision_image_F2.jpg 1 spoof
echo "offline-check: ok"
