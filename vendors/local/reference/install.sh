#!/usr/bin/env bash
# Installs what minivision.py (the reference of reference_test.go) needs: Debian's
# python3-opencv (OpenCV 4.6 with its DNN module on Debian 12) and python3-numpy, for
# /usr/bin/python3. Idempotent: packages are installed only when missing, with
# `apt-get update` first. Works as root on a fresh Debian 12 machine, from any directory.
set -euo pipefail

debs=(python3 python3-numpy python3-opencv)

missing=()
for p in "${debs[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

sudo=""
if [ "$(id -u)" != 0 ]; then sudo="sudo"; fi
if [ "${#missing[@]}" -gt 0 ]; then
  echo "install.sh: installing Debian packages: ${missing[*]}"
  $sudo apt-get update
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y --no-install-recommends "${missing[@]}"
else
  echo "install.sh: Debian packages already installed"
fi

/usr/bin/python3 -c 'import cv2, numpy; print("install.sh: OpenCV", cv2.__version__, "numpy", numpy.__version__)'
echo "install.sh: done"
