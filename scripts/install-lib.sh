# Functions the project's install scripts share; source it. They work as
# root on a fresh Debian 12 machine (sudo otherwise) and are idempotent.

# install_debs PKG...: installs the Debian packages that are missing, with
# `apt-get update` first. nodejs and npm count as present when node and npm
# are on the PATH from elsewhere (e.g. a preinstalled Node.js build).
install_debs() {
  local missing=() p sudo=""
  for p in "$@"; do
    case "$p" in nodejs|npm)
      if command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1; then continue; fi ;;
    esac
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
      missing+=("$p")
    fi
  done
  if [ "$(id -u)" != 0 ]; then sudo="sudo"; fi
  if [ "${#missing[@]}" -gt 0 ]; then
    echo "install: installing Debian packages: ${missing[*]}"
    $sudo apt-get update
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y --no-install-recommends "${missing[@]}"
  else
    echo "install: Debian packages already installed"
  fi
}

# install_node_modules DIR: runs npm ci (npm install without a lock file) in
# DIR when its node_modules lacks a dependency of package.json at the exact
# version pinned there.
install_node_modules() {
  local dir="$1"
  if (cd "$dir" && node -e '
    const deps = require("./package.json").dependencies;
    for (const [n, v] of Object.entries(deps)) {
      try { if (require("./node_modules/" + n + "/package.json").version !== v) process.exit(1); }
      catch (e) { process.exit(1); }
    }') 2>/dev/null; then
    echo "install: node_modules already present in $dir"
    return
  fi
  echo "install: installing node packages in $dir"
  if [ -f "$dir/package-lock.json" ]; then
    (cd "$dir" && npm ci --no-audit --no-fund)
  else
    (cd "$dir" && npm install --no-audit --no-fund)
  fi
}
