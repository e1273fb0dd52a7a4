"""Flask upstream: served by Werkzeug's dev server (werkzeug) or gunicorn (gunicorn).

The framework name in the report comes from $LIVENESS_UPSTREAM_NAME.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from flask import Flask, Response, request  # noqa: E402

from report import READY, Report  # noqa: E402

NAME = os.environ.get("LIVENESS_UPSTREAM_NAME", "flask")



def _exit_with_master():
    """Under gunicorn this module is imported in each worker after the fork:
    exit as soon as the master is gone (e.g. SIGKILLed by the harness), so no
    orphaned worker keeps serving."""
    import threading
    import time

    master = os.getppid()

    def watch():
        while True:
            time.sleep(0.2)
            if os.getppid() != master:
                os._exit(0)

    threading.Thread(target=watch, name="master-watchdog", daemon=True).start()


if NAME == "gunicorn":
    _exit_with_master()

app = Flask(__name__)
app.config["MAX_CONTENT_LENGTH"] = None


def _json(rep):
    return Response(rep.body(), status=200, mimetype="application/json")


@app.route("/", defaults={"path": ""}, methods=["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"])
@app.route("/<path:path>", methods=["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"])
def catch_all(path):
    if request.method in ("GET", "HEAD") and request.path == "/" and not request.query_string:
        return Response(READY, status=200, mimetype="text/plain")
    rep = Report(NAME, request.headers.get)
    try:
        _collect(rep)
    except Exception as exc:  # never crash
        rep.fail("handler", exc)
    return _json(rep)


def _collect(rep):
    # Raw body first: cached, so the form parser below still sees it.
    try:
        raw = request.get_data(cache=True, parse_form_data=False)
        rep.body_bytes(raw)
    except Exception as exc:
        rep.fail("body", exc)
    try:
        for name, values in request.args.lists():
            for v in values:
                rep.string(name, "query", v)
    except Exception as exc:
        rep.fail("args", exc)
    try:
        for name, files in request.files.lists():
            for f in files:
                rep.file(name, f.read())
        for name, values in request.form.lists():
            for v in values:
                rep.string(name, "form", v)
        # merged view: request.values (args + form)
        for name, values in request.values.lists():
            for v in values:
                via = "form" if v in request.form.getlist(name) else "query"
                rep.string(name, via, v)
    except Exception as exc:
        rep.fail("form", exc)
    # JSON: strict when the Content-Type says JSON, else the lenient forced read.
    if request.is_json:
        try:
            rep.json_value(request.get_json())
        except Exception as exc:
            rep.fail("json", exc)
    else:
        try:
            doc = request.get_json(force=True, silent=True)
            if doc is not None:
                rep.json_value(doc)
        except Exception as exc:
            rep.fail("json", exc)


@app.errorhandler(Exception)
def _any_error(exc):
    rep = Report(NAME, request.headers.get)
    rep.images = []
    rep.fail("flask", exc)
    return _json(rep)


def main():
    from werkzeug.serving import run_simple

    port = int(sys.argv[1])
    run_simple("127.0.0.1", port, app, threaded=True, use_reloader=False, use_debugger=False)


if __name__ == "__main__":
    main()
