"""Rendering the web view's pages: the templates, their filters and the headers every page gets."""
from __future__ import annotations

from datetime import datetime
from pathlib import Path

import aiohttp_jinja2
import jinja2
from aiohttp import web

from bot.web.session import SESSION_ID, VIEWER, csrf_token
from channels.base import format_timestamp
from storage.enums import surface_label

TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"
HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "same-origin",
    "X-Robots-Tag": "noindex, nofollow",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self';"
        " form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
}


def setup(app: web.Application) -> None:
    environment = aiohttp_jinja2.setup(
        app, loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=jinja2.select_autoescape(default=True),
        undefined=jinja2.StrictUndefined,
    )
    environment.filters["via"] = surface_label


def page(request: web.Request, template: str, http_status: int = 200, **context) -> web.Response:
    """``template`` rendered for the request's person (if signed in), in their time zone."""
    viewer = request.get(VIEWER)
    zone = viewer.time_zone if viewer else "UTC"

    def when(moment: datetime | None) -> str:
        return format_timestamp(moment, zone) if moment else "–"

    context.update(
        viewer=viewer, csrf=csrf_token(request[SESSION_ID]) if viewer else "", when=when, zone=zone,
        path=request.path,
    )
    response = aiohttp_jinja2.render_template(template, request, context, status=http_status)
    response.headers.update(HEADERS)
    return response
