#!/usr/bin/env bash
# Runs the differential test of the offline liveness check against minivision's own pipeline
# (OpenCV DNN): installs the reference's Debian packages (install.sh), then runs the test with
# the reference required, so that a missing OpenCV fails instead of skipping. Works from any
# directory; extra arguments go to `go test` (e.g. -run, -timeout).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

"$here/install.sh"
cd "$here/../../.."   # the module root
LIVENESS_REFERENCE_REQUIRED=1 go test -tags reference -count=1 -v "$@" ./vendors/local/reference/
