"""The interactive API docs and the site icon, served from this server (they work offline).

Swagger UI's files come from the `swagger-ui-bundle-v2` package (installed with the app), so
/docs needs no CDN; a small script of ours starts it, so no inline code is needed either.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse, Response
from fastapi.staticfiles import StaticFiles
from swagger_ui_bundle import swagger_ui_path  # type: ignore[import-untyped]

from app.html import render

router = APIRouter(include_in_schema=False)
ICON = Path(__file__).parent / "static" / "favicon.svg"
ASSETS_URL = "/docs/assets"


def swagger_assets() -> StaticFiles:
    """Swagger UI's own files (mounted at ASSETS_URL)."""
    return StaticFiles(directory=str(swagger_ui_path))


@router.get("/docs", response_class=HTMLResponse)
def docs(request: Request) -> Response:
    return render(request, "docs.html", {"assets": ASSETS_URL, "openapi": "/openapi.json"})


@router.get("/favicon.ico")
def favicon() -> Response:
    # An SVG under the name browsers ask for; they read it by its content type.
    return FileResponse(
        ICON, media_type="image/svg+xml", headers={"Cache-Control": "max-age=86400"}
    )
