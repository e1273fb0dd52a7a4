#!/usr/bin/env bash
# Installs what minivision.py (the reference of reference_test.go) needs: Debian's
# python3-opencv (OpenCV 4.6 with its DNN module on Debian 12) and python3-numpy, for
# /usr/bin/python3, when missing. Works from any directory.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
. "$here/../../../scripts/install-lib.sh"
install_debs python3 python3-numpy python3-opencv
/usr/bin/python3 -c 'import cv2, numpy; print("install.sh: OpenCV", cv2.__version__, "numpy", numpy.__version__)'
echo "install.sh: done"
