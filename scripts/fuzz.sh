#!/usr/bin/env bash
# Runs each Fuzz function of every package for FUZZTIME (go test -fuzz takes
# one target per run).
#
# Go 1.26's fuzzing coordinator can end a run that found nothing with a bare
# "context deadline exceeded" when -fuzztime expires while a worker is busy
# (golang/go#75804, fixed in Go 1.27). Such a run — that error, and no
# failing input written — is run once more; a second one fails, as does any
# other failure.
set -euo pipefail
GO=${GO:-go}
FUZZTIME=${FUZZTIME:-10s}
log=$(mktemp)
trap 'rm -f "$log"' EXIT

run() { # target dir
	"$GO" test -run '^$' -fuzz "^$1\$" -fuzztime "$FUZZTIME" "./$2" >"$log" 2>&1
}

deadline_race() {
	grep -q 'context deadline exceeded' "$log" && ! grep -q 'Failing input written' "$log"
}

for f in $(grep -l '^func Fuzz' $(find . -name '*_test.go' -not -path './.git/*')); do
	dir=$(dirname "$f")
	for n in $(grep -o '^func Fuzz[A-Za-z0-9_]*' "$f" | cut -d' ' -f2); do
		echo "fuzz: $n ($dir, $FUZZTIME)"
		if run "$n" "$dir"; then continue; fi
		if deadline_race; then
			echo "fuzz: $n ended on the coordinator's deadline race without a failing input; once more"
			if run "$n" "$dir"; then continue; fi
		fi
		cat "$log"
		exit 1
	done
done
