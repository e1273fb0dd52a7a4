#!/usr/bin/env bash
# Installs what the browser test needs. Idempotent: Debian's chromium (and
# nodejs, npm) are installed only when missing, node_modules when absent or
# lacking playwright-core at the version package.json pins.
# Works as root on a fresh Debian 12 machine, from any directory.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

missing=()
for p in chromium nodejs npm; do
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
  (cd "$here" && node -e '
    const deps = require("./package.json").dependencies;
    for (const [n, v] of Object.entries(deps)) {
      try { if (require("./node_modules/" + n + "/package.json").version !== v) process.exit(1); }
      catch (e) { process.exit(1); }
    }') 2>/dev/null
}
if [ ! -d "$here/node_modules" ] || ! node_ok; then
  echo "install.sh: installing node packages in $here"
  (cd "$here" && npm ci --no-audit --no-fund)
else
  echo "install.sh: node_modules already present"
fi
echo "install.sh: done"
