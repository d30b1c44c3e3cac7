"""The signed-in pages: incidents, one incident (acting on it too), who is on call (taking a shift
too), people, the person's own notifications (push in this browser, a test page), the delivery log."""
from __future__ import annotations

import hashlib
from datetime import timedelta
from typing import overload

from aiohttp import web

from bot.app_keys import CHANNEL_STATES_KEY, PUSH_PUBLIC_KEY, SERVICE_KEY, WEB_KEY
from bot.commands import is_name, parse_duration, parse_number
from bot.json_body import parse_json
from bot.push import NOT_SET_UP
from bot.render import action_answer, not_involved
from bot.web.grid import delivery_grid
from bot.web.oncall_picture import DAYS, two_weeks
from bot.web.render import page
from bot.web.session import VIEWER, signed_in
from channels.base import format_timestamp
from incidents.channel_traits import Reach
from incidents.intake import IntakeError
from incidents.lifecycle import available_actions
from incidents.oncall import UnknownSchedule
from incidents.push_subscriptions import SubscriptionError, parse_subscription
from incidents.report import STATUS_FILTERS
from incidents.service import Actor, IncidentNotFound, NotAllowed
from incidents.shift_overrides import OverrideRefused
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


def version_token(version: tuple) -> str:
    """The incident page's version (``WebViews.version``) as the page carries it to its live updates."""
    return hashlib.sha256(repr(version).encode()).hexdigest()[:16]


async def _incident_page(request: web.Request, number: int, notice: str | None = None, http_status: int = 200):
    views = request.app[WEB_KEY].views
    try:
        # The version first: a change between the two reads makes a needless refresh, never a missed one.
        version = await views.version(request[VIEWER], number)
        report = await views.report(request[VIEWER], number)
    except IncidentNotFound:
        return page(request, "not_found.html", http_status=404, number=number)
    actions = available_actions(report.incident.status)
    return page(
        request, "incident.html", http_status=http_status, report=report, grid=delivery_grid(report.notifications),
        actions=actions, notice=notice, live_url=f"/incidents/{number}/live?since={version_token(version)}",
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
        await request.app[WEB_KEY].views.check_visible(viewer, number)
        outcome = await request.app[SERVICE_KEY].act(number, action, Actor(viewer.name, "WEB", viewer.user_id))
    except IncidentNotFound:
        return page(request, "not_found.html", http_status=404, number=number)
    except NotAllowed:
        return await _incident_page(request, number, not_involved(number), http_status=403)
    return await _incident_page(request, number, action_answer(outcome))


def _reach(request: web.Request) -> dict[Channel, Reach]:
    return request.app[SERVICE_KEY].config.reach


@signed_in
async def people(request: web.Request) -> web.Response:
    everyone = await request.app[WEB_KEY].views.people(request[VIEWER], _reach(request))
    return page(request, "people.html", people=everyone, notice=None)


async def _send_test(request: web.Request) -> str:
    """Send the signed-in person a test page on every channel that reaches them; says where."""
    channels = await request.app[SERVICE_KEY].send_test(request[VIEWER].user_id)
    if not channels:
        return "No enabled channel can reach you, so no test page was sent."
    return f"Test page queued on {', '.join(channel.lower() for channel in channels)}."


@signed_in
async def test_page(request: web.Request) -> web.Response:
    notice = await _send_test(request)
    everyone = await request.app[WEB_KEY].views.people(request[VIEWER], _reach(request))
    return page(request, "people.html", people=everyone, notice=notice)


async def _own_page(request: web.Request, notice: str | None = None) -> web.Response:
    """The signed-in person's notifications: what reaches them, push in this browser, a test page."""
    me = await request.app[WEB_KEY].views.reach_of(request[VIEWER], _reach(request))
    push_state = request.app[CHANNEL_STATES_KEY][Channel.PUSH.lower()]
    return page(request, "me.html", me=me, notice=notice, public_key=request.app.get(PUSH_PUBLIC_KEY),
                push_off=push_state.removeprefix("off: "))


@signed_in
async def own_page(request: web.Request) -> web.Response:
    return await _own_page(request)


@signed_in
async def own_test_page(request: web.Request) -> web.Response:
    return await _own_page(request, await _send_test(request))


def _answer(status: int, **body) -> web.Response:
    return web.json_response(body, status=status, headers={"Cache-Control": "no-store"})


@signed_in
async def keep_push_subscription(request: web.Request) -> web.Response:
    """Keep this browser's push subscription (the form field ``subscription``, the JSON of
    ``PushSubscription``) for the signed-in person; the page's script posts it and shows the
    JSON answer's ``message`` or ``error``."""
    if request.app.get(PUSH_PUBLIC_KEY) is None:
        return _answer(503, error=NOT_SET_UP)
    raw = (await request.post()).get("subscription")
    try:
        info = parse_subscription(parse_json(raw.encode()) if isinstance(raw, str) else None)
    except IntakeError as problem:
        return _answer(problem.status, error=problem.message)
    except SubscriptionError as problem:
        return _answer(422, error=str(problem), field=problem.field)
    viewer = request[VIEWER]
    await request.app[SERVICE_KEY].push_links.keep_for_signed_in(viewer.user_id, info, request.headers.get("User-Agent"))
    return _answer(201, ok=True, message=f"Done: this browser will get Ackbot pages for {viewer.name}.")


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


@signed_in
async def oncall(request: web.Request) -> web.Response:
    return await _oncall_page(request)


@signed_in
async def take_shift(request: web.Request) -> web.Response:
    """Put the signed-in person on call for a schedule now, until the shift ends or for a while."""
    viewer = request[VIEWER]
    form = await request.post()
    schedule, length = form.get("schedule"), form.get("duration") or None
    if not isinstance(schedule, str) or not is_name(schedule):
        return await _oncall_page(request, "Choose a schedule to take.", 422)
    duration = parse_duration(length) if isinstance(length, str) else None
    if length is not None and duration is None:
        return await _oncall_page(request, "Say how long like 30m, 2h or 1d (at most 14 days), or leave it empty.", 422)
    try:
        view = await request.app[SERVICE_KEY].take_shift(Actor(viewer.name, "WEB", viewer.user_id), schedule, duration)
    except OverrideRefused as refusal:
        return await _oncall_page(request, str(refusal), 409)
    except UnknownSchedule:
        return await _oncall_page(request, "There is no such schedule.", 404)
    replaced = f" instead of {view.replaced} (they are told)" if view.replaced else ""
    until = format_timestamp(view.end, view.time_zone)
    return await _oncall_page(request, f"You are on call for {view.schedule}{replaced} until {until}.")


async def _oncall_page(request: web.Request, notice: str | None = None, http_status: int = 200) -> web.Response:
    """Each schedule the viewer's teams have: who is on call now and next, and two weeks of shifts."""
    viewer, service = request[VIEWER], request.app[SERVICE_KEY]
    teams = set(await request.app[WEB_KEY].views.team_names(viewer))
    now = service.clock()
    schedules = []
    for line in await service.on_call(at=now, upcoming=2):
        if not (viewer.is_admin or line.team is None or line.team in teams):
            continue
        _, shifts = await service.shifts(line.schedule, now, now + timedelta(days=DAYS))
        schedules.append((line, two_weeks(shifts, now, line.time_zone)))
    return page(request, "oncall.html", http_status=http_status, schedules=schedules, notice=notice, teams=teams)
