"""`reelwright serve` and `reelwright mcp`, registered on the CLI app by `register(app)`."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")


def _need_web_extra() -> None:
    from ..errors import MissingDependencyError

    try:
        import fastapi  # noqa: F401
        import mcp  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError as exc:
        raise MissingDependencyError(f"the studio's package {exc.name!r}", "pip install 'reelwright[web]'") from None


def check_bind(host: str, token: str | None) -> None:
    """Anything but localhost needs a token: the API spends the provider keys of the machine it runs on."""
    from ..errors import UserError

    if host not in LOCAL_HOSTS and not token:
        raise UserError(f"binding to {host} needs a token: pass --token or set REELWRIGHT_TOKEN (make one with "
                        "python -c 'import secrets; print(secrets.token_urlsafe())')")
    if token is not None and len(token) < 8:
        raise UserError("the token must be at least 8 characters")


def register(app: typer.Typer) -> None:
    @app.command()
    def serve(
        host: Annotated[str, typer.Option("--host", help="Address to bind; anything but localhost needs --token.")] = "127.0.0.1",
        port: Annotated[int, typer.Option("--port", min=0, max=65535)] = 8000,
        token: Annotated[Optional[str], typer.Option("--token", envvar="REELWRIGHT_TOKEN", show_default=False,
                                                     help="Bearer token required on the API (env REELWRIGHT_TOKEN).")] = None,
        workers: Annotated[int, typer.Option("--workers", min=1, max=64, help="Jobs rendered at once.")] = 1,
        max_queued: Annotated[int, typer.Option("--max-queued", min=1, help="Jobs waiting before new ones get 429.")] = 100,
        cors_origin: Annotated[Optional[list[str]], typer.Option("--cors-origin", help="Allow this browser origin (CORS is off by default).")] = None,
        executor: Annotated[Optional[str], typer.Option("--executor", help="local (default) or ray: every job's clips are made on a Ray cluster (RAY_ADDRESS, or one this server starts once); env REELWRIGHT_EXECUTOR.")] = None,
        jobs_on_cluster: Annotated[bool, typer.Option("--jobs-on-cluster", help="With --executor ray: run each whole job as a Ray task on any node (database and runs folder on a shared filesystem); env REELWRIGHT_JOBS_ON_CLUSTER.")] = False,
    ) -> None:
        """Serve the Agent Mode page, the REST API (/docs), /v1/videos and MCP (/mcp) over a durable job queue."""
        from ..cli.shared import err, guarded

        def go():
            _need_web_extra()
            check_bind(host, token)
            import uvicorn

            from ..config import home, resolve_settings
            from .app import create_app
            from .studio import Studio

            from ..errors import UserError

            settings = resolve_settings({"executor": executor.strip().lower() if executor else None,
                                         "jobs_on_cluster": True if jobs_on_cluster else None})
            if settings.jobs_on_cluster and settings.executor != "ray":
                raise UserError("--jobs-on-cluster needs --executor ray (or REELWRIGHT_EXECUTOR=ray)")
            studio = Studio(home(), max_workers=workers, max_queued=max_queued, settings=settings)
            api = create_app(studio, token=token, cors_origins=cors_origin,
                             allowed_hosts=None if host in LOCAL_HOSTS else ["*"])
            shown = f"[{host}]" if ":" in host else host
            err.print(f"reelwright studio on http://{shown}:{port}  (API docs /docs, videos /v1/videos, MCP /mcp; "
                      f"queue in {studio.db.path}){'  token required' if token else ''}"
                      f"{'  clips on Ray' if settings.executor == 'ray' else ''}"
                      f"{', jobs as Ray tasks' if settings.jobs_on_cluster else ''}")
            # The access log would print query strings, and short-lived tokens ride there: keep it off.
            uvicorn.run(api, host=host, port=port, access_log=False, log_level="warning")

        guarded(go)

    @app.command("mcp")
    def mcp_cmd(
        workers: Annotated[int, typer.Option("--workers", min=1, max=64, help="Jobs rendered at once.")] = 1,
    ) -> None:
        """Serve the studio's tools over MCP on stdio (for desktop agents)."""
        from ..cli.shared import guarded

        def go():
            _need_web_extra()
            from ..config import home
            from .mcp_tools import build_mcp
            from .studio import Studio

            studio = Studio(home(), max_workers=workers)
            server = build_mcp(studio, allow_paths=True)
            studio.start()
            try:
                server.run("stdio")
            finally:
                studio.stop()

        guarded(go)


__all__ = ["register", "check_bind", "LOCAL_HOSTS"]
