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

missing=()
for p in "${debs[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done
# node/npm may come from elsewhere (e.g. a preinstalled nodejs build): accept them.
if command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1; then
  keep=()
  for p in "${missing[@]}"; do
    case "$p" in nodejs|npm) ;; *) keep+=("$p") ;; esac
  done
  missing=("${keep[@]+"${keep[@]}"}")
fi

sudo=""
if [ "$(id -u)" != 0 ]; then sudo="sudo"; fi
if [ "${#missing[@]}" -gt 0 ]; then
  echo "install.sh: installing Debian packages: ${missing[*]}"
  $sudo apt-get update
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y --no-install-recommends "${missing[@]}"
else
  echo "install.sh: Debian packages already installed"
fi

# Every dependency of package.json present at its exact version?
node_ok() {
  (cd "$here/node" && node -e '
    const deps = require("./package.json").dependencies;
    for (const [n, v] of Object.entries(deps)) {
      try { if (require("./node_modules/" + n + "/package.json").version !== v) process.exit(1); }
      catch (e) { process.exit(1); }
    }') 2>/dev/null
}
if [ ! -d "$here/node/node_modules" ] || ! node_ok; then
  echo "install.sh: installing node packages in $here/node"
  if [ -f "$here/node/package-lock.json" ]; then
    (cd "$here/node" && npm ci --no-audit --no-fund)
  else
    (cd "$here/node" && npm install --no-audit --no-fund)
  fi
else
  echo "install.sh: node_modules already present"
fi
echo "install.sh: done"
