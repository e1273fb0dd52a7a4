"""Shared reporting code for the Python differential upstreams.

Every app builds a Report, feeds it whatever its framework exposes, and
answers with Report.body(). The rules are in ../README.md; in short:
files are reported whatever their bytes, strings only when image-like
(raw magic, or a base64 / data: URL decoding that starts with a magic).
"""
import base64
import binascii
import hashlib
import json

READY = b"ready"


def has_magic(b):
    if not b:
        return False
    return (
        b[:3] == b"\xff\xd8\xff"
        or b[:4] == b"\x89PNG"
        or b[:4] == b"GIF8"
        or (b[:4] == b"RIFF" and b[8:12] == b"WEBP")
        or b[:2] == b"BM"
        or b[:4] == b"II*\x00"
        or b[:4] == b"MM\x00*"
        or b[4:8] == b"ftyp"
        or b[:4] == b"\x1a\x45\xdf\xa3"
    )


def sha(b):
    return hashlib.sha256(b).hexdigest()


def _b64_candidates(s):
    """Every decoding of s (str) that Python's usual lenient decoders give."""
    out = []
    for dec in (base64.b64decode, base64.urlsafe_b64decode):
        for pad in ("", "=", "==", "==="):
            try:
                out.append(dec(s + pad))
                break
            except (binascii.Error, ValueError, TypeError):
                continue
    return out


def image_decodings(s):
    """Distinct byte strings an app could get from string s that start with an image magic."""
    found = []
    raws = []
    if isinstance(s, (bytes, bytearray)):
        raws.append(bytes(s))
        try:
            text = bytes(s).decode("latin-1")
        except Exception:  # pragma: no cover
            text = None
    else:
        text = s
        for enc, err in (("utf-8", "surrogateescape"), ("latin-1", "strict")):
            try:
                raws.append(s.encode(enc, err))
            except (UnicodeError, ValueError):
                pass
    for r in raws:
        if has_magic(r) and r not in found:
            found.append(r)
    if text is not None:
        t = text
        if t[:5].lower() == "data:" and "," in t:
            t = t.split(",", 1)[1]
        for d in _b64_candidates(t):
            if has_magic(d) and d not in found:
                found.append(d)
    return found


JSON_TYPES = ("application/json",)


def is_json_type(content_type):
    mt = (content_type or "").split(";", 1)[0].strip().lower()
    return mt == "application/json" or (mt.startswith("application/") and mt.endswith("+json"))


class Report:
    def __init__(self, framework, headers_get):
        self.framework = framework
        self.ok = True
        self.errors = []
        self.verdict = headers_get("X-Liveness-Verdict") or ""
        self.judged = headers_get("X-Liveness-Image-Sha256") or ""
        self.images = []
        self._seen = set()

    def fail(self, where, exc):
        self.ok = False
        detail = getattr(exc, "detail", None) or str(exc) or repr(exc)
        code = getattr(exc, "status_code", None) or getattr(exc, "code", None)
        text = "%s: %s%s: %s" % (where, type(exc).__name__, " %s" % code if isinstance(code, int) else "", detail)
        self.errors.append(text[:300])

    def add(self, field, via, data, path=None):
        if not data:
            return
        h = sha(data)
        key = (field, via, h)
        if key in self._seen:
            return
        self._seen.add(key)
        self.images.append({"field": field, "via": via, "sha256": h,
                            "path": path if path is not None else field,
                            "magic": has_magic(data)})

    def file(self, field, data, path=None):
        self.add(field, "file", data, path)

    def string(self, field, via, value, path=None):
        if isinstance(value, (str, bytes, bytearray)):
            for d in image_decodings(value):
                self.add(field, via, d, path)

    def body_bytes(self, data):
        if data and has_magic(data):
            self.add("", "body", data, "")

    def json_value(self, value, via="json"):
        """Walks a parsed JSON document iteratively (no recursion limit)."""
        stack = [(value, "", "$")]
        while stack:
            v, key, path = stack.pop()
            if isinstance(v, str):
                self.string(key, via, v, path)
            elif isinstance(v, dict):
                for k, sub in reversed(list(v.items())):
                    stack.append((sub, str(k), "%s.%s" % (path, k)))
            elif isinstance(v, list):
                for i in range(len(v) - 1, -1, -1):
                    stack.append((v[i], key, "%s[%d]" % (path, i)))

    def as_dict(self):
        return {
            "framework": self.framework,
            "ok": self.ok,
            "error": "; ".join(self.errors),
            "verdict": self.verdict,
            "judged": self.judged,
            "images": self.images,
        }

    def body(self):
        return json.dumps(self.as_dict()).encode("utf-8")
