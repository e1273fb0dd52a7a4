#!/usr/bin/env bash
# Installs what the browser test needs: Debian's chromium (and nodejs, npm)
# when missing, and node_modules when it lacks playwright-core at the
# version package.json pins. Works from any directory.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
. "$here/../scripts/install-lib.sh"
install_debs chromium nodejs npm
install_node_modules "$here"
echo "install.sh: done"
