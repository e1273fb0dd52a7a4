#!/usr/bin/env bash
# run.sh <framework> <port>: execs one differential upstream on 127.0.0.1:<port>
# in the foreground (kill the pid to stop it). GET / answers "ready".
# Frameworks: werkzeug gunicorn django starlette fastapi multer busboy formidable php
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PY=/usr/bin/python3   # Debian's interpreter: its dist-packages hold the frameworks

usage() {
  echo "usage: $0 <werkzeug|gunicorn|django|starlette|fastapi|multer|busboy|formidable|php> <port>" >&2
  exit 2
}
[ $# -eq 2 ] || usage
fw="$1"; port="$2"
case "$port" in ''|*[!0-9]*) echo "run.sh: bad port '$port'" >&2; exit 2 ;; esac

missing() {
  echo "run.sh: $fw: missing $1; run $here/install.sh" >&2
  exit 3
}
need_py() {
  [ -x "$PY" ] || missing "$PY (Debian package python3)"
  local m
  for m in "$@"; do
    "$PY" -c "import $m" >/dev/null 2>&1 || missing "Python module '$m' (Debian packages, see install.sh)"
  done
}
need_node() {
  command -v node >/dev/null 2>&1 || missing "node"
  local m
  for m in "$@"; do
    [ -d "$here/node/node_modules/$m" ] || missing "node package '$m' (npm ci in $here/node)"
  done
}

export PYTHONDONTWRITEBYTECODE=1
unset PYTHONPATH PYTHONHOME
case "$fw" in
  werkzeug)
    need_py flask werkzeug
    export LIVENESS_UPSTREAM_NAME=werkzeug
    exec "$PY" "$here/python/flaskapp.py" "$port"
    ;;
  gunicorn)
    need_py flask gunicorn
    export LIVENESS_UPSTREAM_NAME=gunicorn
    exec "$PY" -m gunicorn --chdir "$here/python" --workers 2 --worker-class sync \
      --bind "127.0.0.1:$port" --timeout 120 --graceful-timeout 2 \
      --limit-request-line 0 --limit-request-field_size 0 --limit-request-fields 32768 \
      --log-level warning flaskapp:app
    ;;
  django)
    need_py django
    exec "$PY" "$here/python/djangoapp.py" "$port"
    ;;
  starlette)
    need_py starlette uvicorn multipart
    exec "$PY" "$here/python/asgiapp.py" starlette "$port"
    ;;
  fastapi)
    need_py fastapi starlette uvicorn multipart
    exec "$PY" "$here/python/asgiapp.py" fastapi "$port"
    ;;
  multer)
    need_node express multer
    exec node "$here/node/multer.js" "$port"
    ;;
  busboy)
    need_node busboy
    exec node "$here/node/busboy.js" "$port"
    ;;
  formidable)
    need_node formidable
    exec node "$here/node/formidable.js" "$port"
    ;;
  php)
    command -v php >/dev/null 2>&1 || missing "php (Debian package php-cli)"
    # One process (no PHP_CLI_SERVER_WORKERS): forked workers would outlive
    # a kill of the pid the harness holds.
    unset PHP_CLI_SERVER_WORKERS
    exec php -n \
      -d file_uploads=1 -d enable_post_data_reading=1 \
      -d upload_max_filesize=64M -d post_max_size=256M -d max_file_uploads=1000 \
      -d max_input_vars=100000 -d memory_limit=1024M -d max_execution_time=0 \
      -d request_order=GP -d variables_order=EGPCS \
      -d upload_tmp_dir="${TMPDIR:-/tmp}" \
      -d display_errors=0 -d display_startup_errors=0 -d log_errors=0 \
      -S "127.0.0.1:$port" -t "$here/php" "$here/php/index.php"
    ;;
  *) echo "run.sh: unknown framework '$fw'" >&2; usage ;;
esac
