# requests_client.py URL SHAPE IMAGE: uploads the JPEG at IMAGE to URL with
# Python requests (Debian's python3-requests: run it with /usr/bin/python3)
# and prints {"status": ..., "body": ..., "client": ...} as one JSON line.
# SHAPE: multipart (files= and data=), json (json=, a data URI) or
# urlencoded (data=, raw base64). Used by clients_test.go.
import base64
import json
import sys

import requests

url, shape, path = sys.argv[1:4]
with open(path, "rb") as f:
    img = f.read()
b64 = base64.b64encode(img).decode("ascii")
if shape == "multipart":
    with open(path, "rb") as f:
        r = requests.post(url, files={"selfie": ("selfie.jpg", f, "image/jpeg")},
                          data={"user": "alice"}, timeout=30)
elif shape == "json":
    r = requests.post(url, json={"selfie": "data:image/jpeg;base64," + b64, "user": "alice"}, timeout=30)
elif shape == "urlencoded":
    r = requests.post(url, data={"selfie": b64, "user": "alice"}, timeout=30)
else:
    sys.exit("requests_client.py: unknown shape " + shape)
print(json.dumps({"status": r.status_code, "body": r.text, "client": "python-requests/" + requests.__version__}))
