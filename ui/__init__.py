"""The trail viewer at /ui: static HTML, CSS and JavaScript served by the app itself.

No build step and nothing from another host. Every page and asset goes out under a strict
Content-Security-Policy: scripts and styles only from this origin (no inline code, no eval),
fetches only to this origin, no framing. The page is one HTML shell for every /ui path;
its scripts read the path and query to decide what to show, so a view survives a reload.
"""

from __future__ import annotations

from html import escape
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.staticfiles import StaticFiles
from starlette.responses import HTMLResponse, Response
from starlette.types import Scope

STATIC = Path(__file__).resolve().parent / "static"
UI_URL = "/ui"
ASSETS_URL = f"{UI_URL}/assets"
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
        "form-action 'self'",
    ]
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    # Revalidate each load (ETag makes that cheap), so a deploy never mixes old and new files.
    "Cache-Control": "no-cache",
}


class _Assets(StaticFiles):
    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        response.headers.update(SECURITY_HEADERS)
        return response


def install_trail_viewer(app: FastAPI) -> None:
    """Serve the viewer's shell at /ui and every path under it, and its files at /ui/assets."""
    shell = (STATIC / "index.html").read_text(encoding="utf-8")
    app.mount(ASSETS_URL, _Assets(directory=STATIC), name="ui-assets")

    async def trail_viewer(request: Request) -> HTMLResponse:
        # Asset URLs are absolute so that /ui/audits/<id> finds them; behind a proxy that
        # mounts the app under a prefix (root_path), they carry that prefix.
        root = escape(request.scope.get("root_path", ""), quote=True)
        return HTMLResponse(shell.replace("{{root}}", root), headers=SECURITY_HEADERS)

    for path in (UI_URL, f"{UI_URL}/", f"{UI_URL}/{{view:path}}"):
        app.add_api_route(path, trail_viewer, methods=["GET"], include_in_schema=False)
