"""The on-call API: ``GET /api/v1/oncall`` and ``GET /api/v1/schedules/{name}/shifts``. An API
key is needed, as for the rest of ``/api/v1`` (``bot.api.api_key_middleware``).

Times in a query are ISO 8601; without an offset they are the schedule's local time. Errors are
JSON ``{"error": message, "field": name}``: 422 for a bad parameter, 404 for an unknown schedule
or team.
"""
from __future__ import annotations

from datetime import datetime, timedelta

from aiohttp import web

from bot.api import error
from bot.app_keys import SERVICE_KEY
from bot.commands import is_name, parse_time
from bot.oncall_views import oncall_json, shift_json
from incidents.oncall import UnknownSchedule
from incidents.oncall_report import BadRange
from incidents.service import UnknownTeam

DEFAULT_RANGE = timedelta(days=7)
MAX_UPCOMING = 50


class BadParameter(ValueError):
    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field, self.message = field, message


def add_routes(app: web.Application) -> None:
    app.router.add_get("/api/v1/oncall", get_oncall)
    app.router.add_get("/api/v1/schedules/{name}/shifts", get_shifts)


def _time(request: web.Request, field: str) -> datetime | None:
    text = request.query.get(field)
    if text is None:
        return None
    moment = parse_time(text)
    if moment is None:
        raise BadParameter(field, "expected an ISO 8601 time like 2026-12-07T09:00 or 2026-12-07T08:00Z")
    return moment


def _upcoming(request: web.Request) -> int:
    text = request.query.get("next", "0")
    if not (text.isascii() and text.isdigit()) or int(text) > MAX_UPCOMING:
        raise BadParameter("next", f"expected a whole number from 0 to {MAX_UPCOMING}")
    return int(text)


def _name(request: web.Request, field: str) -> str | None:
    text = request.query.get(field)
    if text is not None and not is_name(text):
        raise BadParameter(field, "expected a name: letters, digits, - and _")
    return text


async def get_oncall(request: web.Request) -> web.Response:
    try:
        team, schedule = _name(request, "team"), _name(request, "schedule")
        if team is not None and schedule is not None:
            raise BadParameter("schedule", "give team or schedule, not both")
        lines = await request.app[SERVICE_KEY].on_call(
            team=team, schedule=schedule, at=_time(request, "at"), upcoming=_upcoming(request),
        )
    except BadParameter as problem:
        return error(422, problem.message, problem.field)
    except UnknownSchedule as problem:
        return error(404, str(problem), "schedule")
    except UnknownTeam as problem:
        return error(404, str(problem), "team")
    return web.json_response({"oncall": oncall_json(lines)})


async def get_shifts(request: web.Request) -> web.Response:
    service = request.app[SERVICE_KEY]
    try:
        name = request.match_info["name"]
        if not is_name(name):
            raise UnknownSchedule(name)
        start = _time(request, "from") or service.clock()
        end = _time(request, "to")
        row, found = await service.shifts(name, start, end or start + DEFAULT_RANGE)
    except BadParameter as problem:
        return error(422, problem.message, problem.field)
    except BadRange as problem:
        return error(422, str(problem), "to")
    except UnknownSchedule as problem:
        return error(404, str(problem), "name")
    return web.json_response({
        "schedule": row.name, "time_zone": row.time_zone, "shifts": [shift_json(shift) for shift in found],
    })
