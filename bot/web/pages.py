"""The signed-in pages: incidents, one incident (acting on it too), people, the delivery log."""
from __future__ import annotations

from typing import overload

from aiohttp import web

from bot.api import SERVICE_KEY
from bot.commands import parse_number
from bot.render import action_answer
from bot.web.config import WEB_KEY
from bot.web.grid import delivery_grid
from bot.web.render import page
from bot.web.session import VIEWER, signed_in
from incidents.lifecycle import available_actions
from incidents.report import STATUS_FILTERS
from incidents.service import Actor, IncidentNotFound, NotAllowed
from storage.enums import Action, Channel, DeliveryStatus

_MAX_PAGE = 10_000


def _page_number(request: web.Request) -> int:
    text = request.query.get("page", "1")
    number = parse_number(text)
    if number is None or not 1 <= number <= _MAX_PAGE:
        raise web.HTTPUnprocessableEntity(text=f"page: expected a whole number from 1 to {_MAX_PAGE}")
    return number


@overload
def _choice(request: web.Request, name: str, allowed, default: str) -> str: ...
@overload
def _choice(request: web.Request, name: str, allowed, default: None = None) -> str | None: ...
def _choice(request: web.Request, name: str, allowed, default: str | None = None) -> str | None:
    value = request.query.get(name) or default
    if value is not None and value not in allowed:
        raise web.HTTPUnprocessableEntity(text=f"{name}: expected one of {', '.join(allowed)}")
    return value


@signed_in
async def incidents(request: web.Request) -> web.Response:
    viewer = request[VIEWER]
    status = _choice(request, "status", STATUS_FILTERS, "open")
    team = request.query.get("team") or None
    listing = await request.app[WEB_KEY].views.incidents(viewer, STATUS_FILTERS[status], team, _page_number(request))
    return page(request, "incidents.html", listing=listing, status=status, team=team, statuses=tuple(STATUS_FILTERS))


def incident_number(request: web.Request) -> int:
    number = parse_number(request.match_info["number"])
    if number is None:
        raise web.HTTPNotFound(text="No such incident.")
    return number


async def _incident_page(request: web.Request, number: int, notice: str | None = None, http_status: int = 200):
    try:
        report = await request.app[WEB_KEY].views.report(request[VIEWER], number)
    except IncidentNotFound:
        return page(request, "not_found.html", http_status=404, number=number)
    actions = available_actions(report.incident.status)
    return page(
        request, "incident.html", http_status=http_status, report=report, grid=delivery_grid(report.notifications),
        actions=actions, notice=notice, live_url=f"/incidents/{number}/live",
    )


@signed_in
async def incident(request: web.Request) -> web.Response:
    return await _incident_page(request, incident_number(request))


@signed_in
async def act(request: web.Request) -> web.Response:
    """Acknowledge or resolve as the signed-in person, by the same rules as every surface."""
    number = incident_number(request)
    action = Action(request.match_info["action"])
    viewer = request[VIEWER]
    try:
        await request.app[WEB_KEY].views.report(viewer, number)
        outcome = await request.app[SERVICE_KEY].act(number, action, Actor(viewer.name, "WEB", viewer.user_id))
    except IncidentNotFound:
        return page(request, "not_found.html", http_status=404, number=number)
    except NotAllowed as refusal:
        return await _incident_page(request, number, str(refusal), http_status=403)
    return await _incident_page(request, number, action_answer(outcome))


def _enabled(request: web.Request) -> frozenset[Channel]:
    return request.app[SERVICE_KEY].config.enabled_channels


@signed_in
async def people(request: web.Request) -> web.Response:
    everyone = await request.app[WEB_KEY].views.people(request[VIEWER], _enabled(request))
    return page(request, "people.html", people=everyone, notice=None)


@signed_in
async def test_page(request: web.Request) -> web.Response:
    """Send the signed-in person a test page on every channel that reaches them."""
    viewer = request[VIEWER]
    channels = await request.app[SERVICE_KEY].send_test(viewer.user_id)
    notice = (
        f"Test page queued on {', '.join(channel.lower() for channel in channels)}." if channels
        else "No enabled channel can reach you, so no test page was sent."
    )
    everyone = await request.app[WEB_KEY].views.people(viewer, _enabled(request))
    return page(request, "people.html", people=everyone, notice=notice)


@signed_in
async def delivery_log(request: web.Request) -> web.Response:
    if not request[VIEWER].is_admin:
        return page(request, "forbidden.html", http_status=403)
    channel = _choice(request, "channel", tuple(Channel))
    status = _choice(request, "status", tuple(DeliveryStatus))
    number = _page_number(request)
    lines, has_next = await request.app[WEB_KEY].views.log(channel, status, number)
    return page(
        request, "log.html", lines=lines, has_next=has_next, page_number=number, channel=channel, status=status,
        channels=tuple(Channel), statuses=tuple(DeliveryStatus),
    )
