#!/usr/bin/env bash
# Installs everything the non-Go differential upstreams need. Idempotent:
# Debian packages are installed only when missing, node_modules when absent or
# lacking a package of node/package.json (at its pinned version).
# Works as root on a fresh Debian 12 machine, from any directory.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

debs=(python3 python3-flask python3-werkzeug gunicorn python3-django
      python3-multipart python3-starlette python3-fastapi python3-uvicorn
      php-cli nodejs npm curl ca-certificates
      python3-requests chromium)   # the real clients of clients_test.go

. "$here/../../../../scripts/install-lib.sh"
install_debs "${debs[@]}"
install_node_modules "$here/node"
echo "install.sh: done"
