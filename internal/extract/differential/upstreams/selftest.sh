#!/usr/bin/env bash
# Starts every upstream on a free port, sends a few uploads carrying a tiny
# generated PNG, checks each report lists the PNG's SHA-256, prints a table.
# Usage: selftest.sh [framework...]   (default: all)
set -uo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PY=/usr/bin/python3
all=(werkzeug gunicorn django starlette fastapi multer busboy formidable php)
if [ $# -gt 0 ]; then fws=("$@"); else fws=("${all[@]}"); fi

work="$(mktemp -d)"
pids=()
cleanup() {
  local p
  for p in "${pids[@]+"${pids[@]}"}"; do kill "$p" 2>/dev/null; done
  for p in "${pids[@]+"${pids[@]}"}"; do wait "$p" 2>/dev/null; done
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A real 2x2 RGB PNG, made here (no committed binaries).
"$PY" - "$work/face.png" <<'PYEOF'
import struct, sys, zlib
def chunk(t, d):
    return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xffffffff)
raw = b"".join(b"\x00" + b"\xc8\x96\x78" * 2 for _ in range(2))
png = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 2, 2, 8, 2, 0, 0, 0))
       + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
open(sys.argv[1], "wb").write(png)
PYEOF
img="$work/face.png"
want="$(sha256sum "$img" | cut -d' ' -f1)"
b64="$(base64 -w0 "$img")"
b64url="$(printf %s "$b64" | tr '+/' '-_' | tr -d '=')"
printf '{"selfie": "data:image/png;base64,%s"}' "$b64" >"$work/body.json"

free_port() {
  "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# check <report-file> <via>: the report is ok JSON, lists $want via <via>, echoes the verdict headers.
check() {
  "$PY" - "$1" "$2" "$want" <<'PYEOF'
import json, sys
path, via, want = sys.argv[1:]
try:
    rep = json.load(open(path))
except Exception as e:
    print("not JSON: %s" % e); sys.exit(1)
if not rep.get("ok"):
    print("ok=false: %s" % rep.get("error")); sys.exit(1)
if rep.get("verdict") != "pass" or rep.get("judged") != "abc":
    print("headers not echoed: %r %r" % (rep.get("verdict"), rep.get("judged"))); sys.exit(1)
if not any(i.get("sha256") == want and i.get("via") == via for i in rep.get("images", [])):
    print("image not reported via %s: %s" % (via, rep.get("images"))); sys.exit(1)
PYEOF
}

declare -A result
fail=0
H=(-H 'X-Liveness-Verdict: pass' -H 'X-Liveness-Image-Sha256: abc')
for fw in "${fws[@]}"; do
  port="$(free_port)"
  "$here/run.sh" "$fw" "$port" >"$work/$fw.log" 2>&1 &
  pid=$!
  pids+=("$pid")
  up=""
  for _ in $(seq 1 100); do
    if [ "$(curl -s -m 2 "http://127.0.0.1:$port/" 2>/dev/null)" = ready ]; then up=1; break; fi
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.2
  done
  if [ -z "$up" ]; then
    result[$fw]="FAIL (did not start: $(tail -n 3 "$work/$fw.log" | tr '\n' ' '))"
    fail=1
    kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
    continue
  fi
  u="http://127.0.0.1:$port/upload"
  notes=()
  run_case() { # name via curl-args...
    local name="$1" via="$2"; shift 2
    local out="$work/$fw.$name.json" msg
    if ! curl -s -m 20 -o "$out" "${H[@]}" "$@"; then
      notes+=("$name: curl failed"); return
    fi
    if ! msg="$(check "$out" "$via")"; then notes+=("$name: $msg"); fi
  }
  run_case multipart file -F "selfie=@$img;type=image/png" "$u"
  run_case json json -H 'Content-Type: application/json' --data-binary "@$work/body.json" "$u"
  run_case urlencoded form --data-urlencode "selfie=$b64" "$u"
  run_case query query -X POST --data-binary '' "$u?selfie=$b64url"
  run_case rawbody body -H 'Content-Type: application/octet-stream' --data-binary "@$img" "$u"
  # still serving after garbage?
  curl -s -m 10 -o /dev/null -H 'Content-Type: multipart/form-data; boundary=x' --data-binary $'--x\r\nbroken' "$u" || true
  curl -s -m 10 -o /dev/null -H 'Content-Type: application/json' --data-binary '{"selfie": [' "$u" || true
  run_case after-garbage file -F "selfie=@$img;type=image/png" "$u"
  kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
  if [ ${#notes[@]} -eq 0 ]; then
    result[$fw]="pass"
  else
    result[$fw]="FAIL ($(printf '%s | ' "${notes[@]}"))"
    fail=1
  fi
done

printf '\n%-12s %s\n' FRAMEWORK RESULT
for fw in "${fws[@]}"; do printf '%-12s %s\n' "$fw" "${result[$fw]}"; done
echo "image sha256: $want"
exit $fail
