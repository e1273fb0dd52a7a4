"""Starlette and FastAPI upstreams on uvicorn.

Usage: asgiapp.py starlette|fastapi PORT
"""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from starlette.datastructures import UploadFile  # noqa: E402
from starlette.responses import PlainTextResponse, Response  # noqa: E402

from report import READY, Report, is_json_type  # noqa: E402

FORM_TYPES = ("multipart/form-data", "application/x-www-form-urlencoded")

METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


async def collect(name, request):
    if request.method in ("GET", "HEAD") and request.url.path == "/" and not request.url.query:
        return PlainTextResponse(READY.decode())
    rep = Report(name, request.headers.get)
    try:
        await _collect(request, rep)
    except Exception as exc:  # never crash
        rep.fail("handler", exc)
    return Response(rep.body(), media_type="application/json")


async def _collect(request, rep):
    raw = None
    try:
        raw = await request.body()  # cached: form() and json() re-read it
        rep.body_bytes(raw)
    except Exception as exc:
        rep.fail("body", exc)
    try:
        for k, v in request.query_params.multi_items():
            rep.string(k, "query", v)
    except Exception as exc:
        rep.fail("query", exc)
    ctype = request.headers.get("content-type", "")
    mt = ctype.split(";", 1)[0].strip().lower()
    if mt in FORM_TYPES:
        try:
            form = await request.form()
            try:
                for k, v in form.multi_items():
                    if isinstance(v, UploadFile):
                        rep.file(k, await v.read())
                    else:
                        rep.string(k, "form", v)
            finally:
                await form.close()
        except Exception as exc:
            rep.fail("form", exc)
    # request.json() never looks at the Content-Type: an app calling it gets
    # whatever parses. Errors count only when the Content-Type says JSON.
    if raw is not None:
        try:
            doc = await request.json()
        except Exception as exc:
            if is_json_type(ctype):
                rep.fail("json", exc)
        else:
            rep.json_value(doc)


def make_starlette():
    from starlette.applications import Starlette
    from starlette.routing import Route

    async def endpoint(request):
        return await collect("starlette", request)

    return Starlette(routes=[Route("/{path:path}", endpoint, methods=METHODS)])


def make_fastapi():
    from fastapi import FastAPI, Request

    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)

    @app.api_route("/{path:path}", methods=METHODS)
    async def endpoint(request: Request, path: str = ""):
        return await collect("fastapi", request)

    return app


def main():
    import uvicorn

    which, port = sys.argv[1], int(sys.argv[2])
    app = make_starlette() if which == "starlette" else make_fastapi()
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
