"""Email and push action links: ``GET /a/{token}`` shows what the link would do and changes
nothing (link scanners such as Safe Links, Mimecast and Proofpoint fetch every link, some even
submit auto-submitting forms); only the POST of the page's own button acts, once.

Unknown and expired links get the same neutral page, so a link reveals nothing it does not grant.
"""
from __future__ import annotations

from html import escape

from aiohttp import web

from bot.access_log import log_rejected
from bot.app_keys import SERVICE_KEY
from bot.render import action_answer
from incidents.action_tokens import TokenView
from storage.enums import surface_label

HEADERS = {
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "X-Robots-Tag": "noindex, nofollow",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'",
}
_VERBS = {"acknowledge": "Acknowledge", "resolve": "Resolve"}
NEUTRAL = (
    "This link does not work (any more).",
    "Action links in Ackbot pages work once and for a limited time. Use the newest page, or act from Slack, Teams or the API.",
)


def add_routes(app: web.Application) -> None:
    app.router.add_get("/a/{token}", confirm_page)
    app.router.add_post("/a/{token}", act)


def page(title: str, *paragraphs: str, form: str = "", status: int = 200) -> web.Response:
    body = "".join(f"<p>{escape(paragraph)}</p>" for paragraph in paragraphs if paragraph)
    html = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">'
        f'<meta name="robots" content="noindex"><title>{escape(title)}</title></head>'
        '<body style="font-family:Arial,Helvetica,sans-serif;max-width:36em;margin:2em auto;padding:0 1em">'
        f"<h1 style=\"font-size:1.4em\">{escape(title)}</h1>{body}{form}</body></html>"
    )
    return web.Response(text=html, content_type="text/html", status=status, headers=HEADERS)


def summary(view: TokenView) -> str:
    incident = view.incident
    assert incident is not None  # every state but invalid names its incident
    service = f" · {incident.service}" if incident.service else ""
    return f"#{incident.id} {incident.priority}{service}: {incident.title} — now {incident.status.lower()}."


def view_page(view: TokenView) -> web.Response:
    """The page for a token that cannot act (used, void or unknown)."""
    if view.state == "used":
        incident = view.incident
        return page(
            "This link was already used", summary(view),
            f"It was used at {view.used_at:%Y-%m-%d %H:%M} UTC. {_state_line(incident)}",
        )
    if view.state == "resolved":
        return page("This incident is resolved", summary(view), _state_line(view.incident))
    return page(*NEUTRAL, status=404)


def _state_line(incident) -> str:
    if incident.resolved_at:
        return f"Resolved by {incident.resolved_by_name} via {surface_label(incident.resolved_via)}."
    if incident.acknowledged_at:
        return f"Acknowledged by {incident.acknowledged_by_name} via {surface_label(incident.acknowledged_via)}."
    return "Nobody has acknowledged it yet."


def _refused_page(request: web.Request, view: TokenView) -> web.Response:
    if view.state not in ("used", "resolved"):
        log_rejected(request, "unknown or expired action link")
    return view_page(view)


async def confirm_page(request: web.Request) -> web.Response:
    view = await request.app[SERVICE_KEY].inspect_action_token(request.match_info["token"])
    if view.state != "valid":
        return _refused_page(request, view)
    assert view.action is not None and view.incident is not None  # a valid token names both
    verb = _VERBS[view.action]
    button = (
        '<form method="post"><button type="submit" style="font-size:1.1em;padding:.6em 1.4em">'
        f"{escape(verb)} #{view.incident.id}</button></form>"
    )
    return page(f"{verb} #{view.incident.id}?", summary(view), f"You are {view.person}.", form=button)


async def act(request: web.Request) -> web.Response:
    view, outcome = await request.app[SERVICE_KEY].act_with_token(request.match_info["token"])
    if outcome is None:
        return _refused_page(request, view)
    title = "Done" if outcome.changed else "Nothing changed"
    return page(title, action_answer(outcome), f"Thank you, {view.person}." if outcome.changed else "")
