#!/usr/bin/env bash
# Runs the browser test of the selfie page (examples/site) from any
# directory: installs what it needs, then the test, which fails rather than
# skips when something is missing. It needs the built ./caddy
# (make -f xcaddy.mk build). BROWSER_SCREENSHOTS=<dir> keeps the
# screenshots; BROWSER_UPDATE_SCREENSHOT=1 rewrites docs/selfie-page.png.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
"$here/install.sh"
cd "$here/.."
LIVENESS_BROWSER_REQUIRED=1 exec go test -tags browser -count=1 -v ./browser/ "$@"
