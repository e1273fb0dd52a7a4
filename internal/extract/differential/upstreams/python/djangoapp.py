"""Single-file Django project, served by `runserver --noreload` (threaded).

Usage: djangoapp.py PORT
"""
import json
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import django  # noqa: E402
from django.conf import settings  # noqa: E402

settings.configure(
    DEBUG=False,
    ALLOWED_HOSTS=["*"],
    SECRET_KEY="differential-upstream-not-secret",
    ROOT_URLCONF=__name__,
    MIDDLEWARE=[],
    INSTALLED_APPS=[],
    DATABASES={},
    USE_TZ=True,
    DATA_UPLOAD_MAX_MEMORY_SIZE=None,
    DATA_UPLOAD_MAX_NUMBER_FIELDS=None,
    DATA_UPLOAD_MAX_NUMBER_FILES=None,
    FILE_UPLOAD_MAX_MEMORY_SIZE=64 * 1024 * 1024,
    FILE_UPLOAD_TEMP_DIR=tempfile.gettempdir(),
    LOGGING_CONFIG=None,
)
django.setup()

from django.http import HttpResponse  # noqa: E402
from django.urls import re_path  # noqa: E402

from report import READY, Report, is_json_type  # noqa: E402


def _collect(request, rep):
    # request.body first (cached): request.POST/FILES then parse from it.
    raw = None
    try:
        raw = request.body
        rep.body_bytes(raw)
    except Exception as exc:
        rep.fail("body", exc)
    try:
        for name, values in request.GET.lists():
            for v in values:
                rep.string(name, "query", v)
    except Exception as exc:
        rep.fail("GET", exc)
    try:
        for name, files in request.FILES.lists():
            for f in files:
                rep.file(name, f.read())
        for name, values in request.POST.lists():
            for v in values:
                rep.string(name, "form", v)
    except Exception as exc:
        rep.fail("POST", exc)
    if raw is not None and is_json_type(request.META.get("CONTENT_TYPE", "")):
        try:
            rep.json_value(json.loads(raw))
        except Exception as exc:
            rep.fail("json", exc)


def view(request, path=""):
    if request.method in ("GET", "HEAD") and request.path == "/" and not request.META.get("QUERY_STRING"):
        return HttpResponse(READY, content_type="text/plain")
    rep = Report("django", request.headers.get)
    try:
        _collect(request, rep)
    except Exception as exc:
        rep.fail("handler", exc)
    return HttpResponse(rep.body(), content_type="application/json")


def _error_view(request, exception=None):
    rep = Report("django", request.headers.get)
    rep.fail("django", exception if exception is not None else RuntimeError("server error"))
    return HttpResponse(rep.body(), content_type="application/json", status=200)


def handler500(request):
    return _error_view(request)


handler400 = _error_view
handler403 = _error_view
handler404 = _error_view

urlpatterns = [re_path(r"^(?P<path>.*)$", view)]


def main():
    from django.core.management import execute_from_command_line

    port = sys.argv[1]
    execute_from_command_line([sys.argv[0], "runserver", "--noreload", "127.0.0.1:" + port])


if __name__ == "__main__":
    main()
