#!/usr/bin/env bash
# Checks the examples and links of README.md and docs/*.md. Run from the
# repository root with a Caddy built with this module:
#
#     make -f xcaddy.mk build && scripts/check-docs.sh ./caddy
#
# What it checks (fenced blocks are those whose fence starts a line):
#
#  1. Every ```caddyfile block is exactly what `caddy fmt` writes for it
#     (tabs, one space between tokens). On a difference it prints the file,
#     the line of the block's opening fence and the diff.
#  2. Every ```caddyfile block that is a complete Caddyfile — its first
#     line that is not a comment is a global options block `{` or starts
#     with a site address (a first word with `:`, `.` or `/` in it, or
#     `localhost`) — passes `caddy adapt`. A fragment that is a
#     `liveness { ... }` block is adapted inside
#         :8080 {
#             route {
#                 <block>
#             }
#         }
#     and a fragment of `vendor ... { ... }` blocks inside `liveness { }`
#     in that site. Other fragments are only formatted. So are syntax
#     templates: blocks with a `<value>` in them. A block preceded by the
#     line `<!-- check-docs: no-adapt (why) -->` is not adapted (e.g. it
#     needs a plugin that this build does not have).
#  3. Every ```json block that is a whole configuration (a JSON object with
#     `apps` or `admin` at its top level) passes `caddy validate`, run with
#     an empty environment: an example must not need a variable. A block
#     whose first key is "apps" or "admin" but that is not valid JSON fails.
#     Other JSON blocks (fragments such as `"cache": {...}`) are skipped.
#  4. Every relative link and image of the Markdown files (outside code)
#     points at a file that exists, and every #anchor at a heading of the
#     file it names (GitHub's heading ids).
#
# Needs bash, awk, diff and jq (installed from Debian's packages when
# missing, through scripts/install-lib.sh). Exit status 0 when everything passes, 1
# when something fails, 2 on a usage error.
set -euo pipefail

CADDY=${1:-./caddy}
if [[ ! -x $CADDY ]]; then
	echo "check-docs: no Caddy binary at $CADDY (build one with make -f xcaddy.mk build)" >&2
	exit 2
fi
case $CADDY in /*) ;; *) CADDY=$PWD/$CADDY ;; esac
if ! command -v jq > /dev/null; then
	# shellcheck source=install-lib.sh
	. "$(dirname "$0")/install-lib.sh"
	install_debs jq
fi
if [[ ! -f README.md || ! -d docs ]]; then
	echo "check-docs: run from the repository root" >&2
	exit 2
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
files=(README.md docs/*.md)
failures=0
fail() {
	failures=$((failures + 1))
	printf 'FAIL %s\n' "$*"
}

# extract FILE writes each fenced block of FILE to $tmp/blocks/<n>.<lang>
# and records "<n> <lang> <file> <line of the opening fence> <no-adapt>" in
# $tmp/blocks/index.
mkdir -p "$tmp/blocks"
: > "$tmp/blocks/index"
n=0
extract() {
	local file=$1 lineno=0 inblock=0 lang= start=0 prev= noadapt=0 out= line
	while IFS= read -r line || [[ -n $line ]]; do
		lineno=$((lineno + 1))
		if ((inblock)); then
			if [[ $line == '```' ]]; then
				inblock=0
				echo "$n $lang $file $start $noadapt" >> "$tmp/blocks/index"
			else
				printf '%s\n' "$line" >> "$out"
			fi
			continue
		fi
		if [[ $line =~ ^\`\`\`([A-Za-z0-9_+-]*)$ ]]; then
			inblock=1
			n=$((n + 1))
			lang=${BASH_REMATCH[1]:-none}
			start=$lineno
			noadapt=0
			[[ $prev == '<!-- check-docs: no-adapt'* ]] && noadapt=1
			out=$tmp/blocks/$n.$lang
			: > "$out"
		fi
		[[ -n $line ]] && prev=$line
	done < "$file"
	if ((inblock)); then
		fail "$file:$start: code block never closed"
	fi
}
for f in "${files[@]}"; do
	extract "$f"
done

# The first line of a block that is neither blank nor a comment.
first_line() {
	awk '!/^[ \t]*(#|$)/ { sub(/^[ \t]+/, ""); print; exit }' "$1"
}

checked_fmt=0 checked_adapt=0 checked_json=0
while read -r i lang file start noadapt; do
	src=$tmp/blocks/$i.$lang
	where="$file:$start"
	case $lang in
	caddyfile)
		checked_fmt=$((checked_fmt + 1))
		"$CADDY" fmt - < "$src" > "$tmp/fmt.out" 2> "$tmp/fmt.err" || {
			fail "$where: caddy fmt failed"
			cat "$tmp/fmt.err"
			continue
		}
		if ! diff -u --label "$where (as written)" --label "$where (caddy fmt)" "$src" "$tmp/fmt.out" > "$tmp/fmt.diff"; then
			fail "$where: caddyfile block is not as caddy fmt writes it"
			cat "$tmp/fmt.diff"
		fi
		((noadapt)) && continue
		grep -Eq '<[A-Za-z][^>]*>' "$src" && continue # a syntax template
		first=$(first_line "$src")
		word=${first%%[[:space:]]*}
		cfg=$tmp/adapt.Caddyfile
		if [[ $first == '{' || $word == *[:./]* || $word == localhost ]]; then
			cp "$src" "$cfg"
			offset=0
		elif [[ $word == liveness ]]; then
			{
				printf ':8080 {\n\troute {\n'
				sed 's/^/\t\t/' "$src"
				printf '\t}\n}\n'
			} > "$cfg"
			offset=2
		elif [[ $word == vendor ]]; then
			{
				printf ':8080 {\n\troute {\n\t\tliveness {\n'
				sed 's/^/\t\t\t/' "$src"
				printf '\t\t}\n\t}\n}\n'
			} > "$cfg"
			offset=3
		else
			continue # another fragment: formatted only
		fi
		checked_adapt=$((checked_adapt + 1))
		if ! (cd "$tmp" && "$CADDY" adapt --config "$cfg" --adapter caddyfile > /dev/null 2> "$tmp/adapt.err"); then
			fail "$where: caddy adapt refused the block"
			# Name the lines of the Markdown file, not of the adapted one.
			grep -v '"level":"info"' "$tmp/adapt.err" |
				awk -v cfg="$cfg" -v file="$file" -v base=$((start - offset)) '{
					out = ""
					while ((i = index($0, cfg ":")) > 0) {
						rest = substr($0, i + length(cfg) + 1)
						match(rest, /^[0-9]+/)
						out = out substr($0, 1, i - 1) file ":" (base + substr(rest, 1, RLENGTH))
						$0 = substr(rest, RLENGTH + 1)
					}
					print out $0
				}' || true
		fi
		;;
	json)
		if jq -e 'type == "object" and (has("apps") or has("admin"))' "$src" > /dev/null 2>&1; then
			:
		elif jq -e . "$src" > /dev/null 2>&1; then
			continue # valid JSON, but not a whole configuration
		elif tr -d ' \t\n' < "$src" | grep -Eq '^\{"(apps|admin)"'; then
			fail "$where: json block looks like a configuration but is not valid JSON"
			jq . "$src" 2>&1 > /dev/null | head -3 || true
			continue
		else
			continue # a fragment
		fi
		checked_json=$((checked_json + 1))
		cp "$src" "$tmp/config.json"
		mkdir -p "$tmp/home"
		if ! (cd "$tmp" && env -i PATH="$PATH" HOME="$tmp/home" "$CADDY" validate --config "$tmp/config.json" > "$tmp/validate.out" 2>&1); then
			fail "$where: caddy validate refused the block (with no environment variable set)"
			grep -v '"level":"info"' "$tmp/validate.out" || true
		fi
		;;
	esac
done < "$tmp/blocks/index"

# Links. anchors FILE prints the ids GitHub gives FILE's headings (outside
# code blocks): lower case, punctuation dropped, spaces as hyphens, a
# repeated id suffixed -1, -2, ...
anchors() {
	awk '
		/^```/ { code = !code; next }
		code { next }
		/^#+ / {
			h = $0
			sub(/^#+ +/, "", h)
			h = tolower(h)
			gsub(/[^a-z0-9 _-]/, "", h)
			gsub(/ /, "-", h)
			if (h in seen) { seen[h]++; print h "-" seen[h] } else { seen[h] = 0; print h }
		}
	' "$1"
}
# links FILE prints "<line> <target>" for each relative link or image of
# FILE outside code blocks and inline code.
links() {
	awk '
		/^```/ { code = !code; next }
		code { next }
		{
			line = $0
			gsub(/`[^`]*`/, "", line)
			while (match(line, /\]\([^) ]+\)/)) {
				print NR, substr(line, RSTART + 2, RLENGTH - 3)
				line = substr(line, RSTART + RLENGTH)
			}
			while (match(line, /src="[^"]+"/)) {
				print NR, substr(line, RSTART + 5, RLENGTH - 6)
				line = substr(line, RSTART + RLENGTH)
			}
		}
	' "$1"
}
checked_links=0
for f in "${files[@]}"; do
	dir=$(dirname "$f")
	while read -r lineno target; do
		case $target in http://* | https://* | mailto:*) continue ;; esac
		checked_links=$((checked_links + 1))
		path=${target%%#*}
		anchor=
		[[ $target == *#* ]] && anchor=${target#*#}
		if [[ -z $path ]]; then
			dest=$f
		else
			dest=$dir/$path
		fi
		if [[ ! -e $dest ]]; then
			fail "$f:$lineno: link to $target: no such file"
			continue
		fi
		if [[ -n $anchor ]]; then
			if [[ $dest != *.md ]]; then
				fail "$f:$lineno: link to $target: an anchor in a file that is not Markdown"
			elif ! anchors "$dest" | grep -qxF -- "$anchor"; then
				fail "$f:$lineno: link to $target: no heading with that id"
			fi
		fi
	done < <(links "$f")
done

echo "check-docs: $checked_fmt caddyfile blocks formatted, $checked_adapt adapted, $checked_json JSON configurations validated, $checked_links links checked; $failures failures"
((failures == 0))
