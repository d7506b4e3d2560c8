"""`reelwright serve`'s application: the page, the REST API (/api, documented at /docs), /v1/videos and /mcp.

Errors are JSON `{"error": {"message", "type", "code"}}` (the shape the openai SDK reads) with the status that
says who must act; no traceback ever reaches a body. A token, when set, is required on every API path and
compared in constant time; it is never logged (uvicorn's access log is off because it would print query tokens)."""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import time
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from .. import __version__
from ..errors import (AuthError, ConfigError, ConflictError, NotFoundError, QueueFullError, ReelwrightError,
                      UserError)
from .studio import Studio
from .uploads import UploadTooLarge

log = logging.getLogger("reelwright.server")
STATIC = Path(__file__).parent / "static"
ACCESS_TOKEN_TTL_S = 600
_PUBLIC = ("/", "/favicon.ico", "/docs", "/redoc", "/openapi.json", "/docs/oauth2-redirect")


class Access:
    """The server token and the short-lived tokens derived from it (for EventSource, <video src>, downloads:
    the browser cannot add a header there)."""

    def __init__(self, token: str | None):
        self.token = token
        self._key = secrets.token_bytes(32)

    @property
    def required(self) -> bool:
        return bool(self.token)

    def check_bearer(self, header: str | None) -> bool:
        if not self.token:
            return True
        scheme, _, value = (header or "").partition(" ")
        given = value.strip() if scheme.lower() == "bearer" else ""
        return hmac.compare_digest(given.encode(), self.token.encode())

    def issue(self, ttl_s: int = ACCESS_TOKEN_TTL_S) -> tuple[str, int]:
        expires = int(time.time()) + ttl_s
        sig = hmac.new(self._key, str(expires).encode(), hashlib.sha256).hexdigest()
        return f"{expires}.{sig}", expires

    def check_short(self, value: str | None) -> bool:
        if not value or "." not in value:
            return False
        expires, _, sig = value.partition(".")
        want = hmac.new(self._key, expires.encode(), hashlib.sha256).hexdigest()
        return hmac.compare_digest(sig.encode(), want.encode()) and expires.isdigit() and int(expires) > time.time()


def error_body(status: int, message: str, kind: str, code: str | None = None) -> JSONResponse:
    return JSONResponse({"error": {"message": message, "type": kind, "code": code}}, status_code=status)


def _status_of(exc: UserError) -> tuple[int, str]:
    if isinstance(exc, NotFoundError):
        return 404, "not_found"
    if isinstance(exc, ConflictError):
        return 409, "conflict"
    if isinstance(exc, QueueFullError):
        return 429, "queue_full"
    if isinstance(exc, AuthError):
        return 401, "unauthorized"
    if isinstance(exc, UploadTooLarge):
        return 413, "too_large"
    if isinstance(exc, ConfigError):
        return 400, "configuration"
    return 400, "invalid_request"


def create_app(studio: Studio, *, token: str | None = None, cors_origins: list[str] | None = None,
               mcp: bool = True, allowed_hosts: list[str] | None = None) -> FastAPI:
    access = Access(token)
    mcp_server = None
    if mcp:
        from .mcp_tools import build_mcp

        mcp_server = build_mcp(studio, allowed_hosts=allowed_hosts)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        studio.start()
        try:
            if mcp_server is not None:
                async with mcp_server.session_manager.run():
                    yield
            else:
                yield
        finally:
            studio.stop()

    app = FastAPI(title="reelwright studio", version=__version__, lifespan=lifespan,
                  description="Plan, make, follow and fetch duration-exact videos. The same jobs are reachable as "
                              "`/v1/videos` (the Videos job protocol) and as MCP tools at `/mcp`.")
    app.state.studio = studio
    app.state.access = access

    if cors_origins:
        from fastapi.middleware.cors import CORSMiddleware

        app.add_middleware(CORSMiddleware, allow_origins=cors_origins, allow_methods=["*"],
                           allow_headers=["Authorization", "Content-Type"])

    @app.middleware("http")
    async def require_token(request: Request, call_next):
        path = request.url.path
        if access.required and not (path in _PUBLIC or path.startswith("/static/")):
            ok = access.check_bearer(request.headers.get("authorization"))
            if not ok and request.method == "GET":
                ok = access.check_short(request.query_params.get("access_token"))
            if not ok:
                return error_body(401, "this server needs its token: send 'Authorization: Bearer TOKEN'",
                                  "unauthorized", "unauthorized")
        return await call_next(request)

    @app.exception_handler(UserError)
    async def user_error(_request: Request, exc: UserError):
        status, kind = _status_of(exc)
        response = error_body(status, str(exc).splitlines()[0] if str(exc) else kind, kind, kind)
        if isinstance(exc, QueueFullError):
            response.headers["Retry-After"] = str(int(exc.retry_after))
        return response

    @app.exception_handler(ReelwrightError)
    async def our_error(_request: Request, exc: ReelwrightError):
        return error_body(500, str(exc).splitlines()[0] if str(exc) else type(exc).__name__, "server_error")

    @app.exception_handler(RequestValidationError)
    async def validation_error(_request: Request, exc: RequestValidationError):
        errors = exc.errors()
        first = errors[0] if errors else {"loc": (), "msg": "invalid request"}
        loc = ".".join(str(x) for x in first.get("loc", ()) if x not in ("body", "query", "path"))
        message = f"{loc}: {first.get('msg')}" if loc else str(first.get("msg"))
        return JSONResponse({"error": {"message": message, "type": "invalid_request", "code": "invalid_request",
                                       "param": loc or None},
                             "detail": [{"loc": list(e.get("loc", ())), "msg": str(e.get("msg")), "type": str(e.get("type"))}
                                        for e in errors]}, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_request: Request, exc: StarletteHTTPException):
        kind = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return error_body(exc.status_code, str(exc.detail), kind, kind)

    @app.exception_handler(Exception)
    async def internal_error(_request: Request, exc: Exception):
        log.error("internal error: %s: %s", type(exc).__name__, str(exc).splitlines()[0] if str(exc) else "")
        return error_body(500, "internal server error", "server_error")

    from .routes_api import router as api_router
    from .videos import router as videos_router

    app.include_router(api_router)
    app.include_router(videos_router)

    @app.get("/", include_in_schema=False)
    def page():
        return FileResponse(STATIC / "index.html", media_type="text/html")

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    if mcp_server is not None:
        from mcp.server.transport_security import TransportSecuritySettings

        # Bound to localhost, the SDK's DNS-rebinding guard applies; on another bind the token guards /mcp.
        security = None if not allowed_hosts else TransportSecuritySettings(enable_dns_rebinding_protection=False)
        mcp_app = mcp_server.streamable_http_app(streamable_http_path="/mcp", transport_security=security)
        # The route itself, not a mount: a mount would answer /mcp with a redirect to /mcp/.
        app.router.routes.extend(mcp_app.routes)
    return app
