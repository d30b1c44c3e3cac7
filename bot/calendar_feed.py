"""The private calendar feeds: ``GET /calendar/{token}.ics`` answers RFC 5545 text built with
the ``icalendar`` package (events in the schedule's zone, with its VTIMEZONE), which Google
Calendar and Outlook subscribe to by URL. The token in the path is the only credential; an
unknown or revoked one gets a plain 404 that reveals nothing."""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from aiohttp import web
from icalendar import Calendar, Event

from bot.app_keys import SERVICE_KEY
from incidents.calendar_links import Feed

HEADERS = {"Cache-Control": "private, max-age=300", "Referrer-Policy": "no-referrer", "X-Robots-Tag": "noindex"}


def add_routes(app: web.Application) -> None:
    app.router.add_get("/calendar/{token}.ics", calendar_feed)


def feed_url(public_url: str, token: str) -> str:
    return f"{public_url.rstrip('/')}/calendar/{token}.ics"


def ical_bytes(feed: Feed, now: datetime) -> bytes:
    calendar = Calendar()
    calendar.add("prodid", "-//Ackbot//On-call schedules//EN")
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("x-wr-calname", feed.title)
    calendar.add("x-published-ttl", "PT15M")
    for item in feed.shifts:
        zone = ZoneInfo(item.time_zone)
        shift = item.shift
        event = Event()
        event.add("uid", f"{item.schedule}-{shift.start:%Y%m%dT%H%M%SZ}-{shift.handle}@ackbot")
        event.add("dtstamp", now)
        event.add("dtstart", shift.start.astimezone(zone))
        event.add("dtend", shift.end.astimezone(zone))
        who = shift.name or shift.handle
        event.add("summary", f"On call: {item.schedule} ({who}{', override' if shift.override else ''})")
        event.add("description", f"{who} is on call for {item.schedule}" + (" by an override." if shift.override else "."))
        event.add("transp", "TRANSPARENT")
        calendar.add_component(event)
    calendar.add_missing_timezones()
    return calendar.to_ical()


async def calendar_feed(request: web.Request) -> web.Response:
    service = request.app[SERVICE_KEY]
    now = service.clock()
    feed = await service.calendar_feed(request.match_info["token"])
    if feed is None:
        return web.Response(status=404, text="no such calendar\n", headers=HEADERS)
    return web.Response(body=ical_bytes(feed, now), content_type="text/calendar", charset="utf-8", headers=HEADERS)
