"""Loading the calendar feeds of schedules with an ``ical_url``, every few minutes in each
``ackbot serve``: fetch (bounded in size and time), parse off the event loop, store the shifts;
a feed that fails keeps its last good copy and its error is shown in answers and /healthz.

Feed URLs often carry a secret (PagerDuty's do): neither they nor a fetch error naming them are
logged or stored; errors are kept as their kind and HTTP status only.
"""
from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from aiohttp import ClientError, ClientSession, ClientTimeout

from incidents.ical_import import FeedError, shifts_from_ical
from incidents.service import IncidentService

log = logging.getLogger("ackbot.ical")
MAX_FEED_BYTES = 5 * 1024 * 1024
FETCH_TIMEOUT = ClientTimeout(total=20)


class FeedRefresher:
    def __init__(self, service: IncidentService, http: ClientSession, interval: timedelta):
        self.service, self.http, self.interval = service, http, interval

    async def refresh_due(self) -> int:
        """Load every feed due; returns how many loaded."""
        due = await self.service.feeds_due(self.interval)
        if not due:
            return 0
        people = await self.service.feed_people()
        loaded = 0
        for feed in due:
            try:
                data = await self._fetch(feed.url)
                shifts = await asyncio.to_thread(shifts_from_ical, data, people, self.service.clock())
            except FeedError as error:
                await self._failed(feed, str(error))
                continue
            await self.service.record_feed(feed.schedule_id, shifts, None)
            loaded += 1
        return loaded

    async def _failed(self, feed, error: str) -> None:
        log.warning("calendar feed of schedule %s failed: %s", feed.schedule, error)
        await self.service.record_feed(feed.schedule_id, None, error)

    async def _fetch(self, url: str) -> bytes:
        url = "https://" + url.removeprefix("webcal://") if url.startswith("webcal://") else url
        try:
            async with self.http.get(url, timeout=FETCH_TIMEOUT, allow_redirects=True) as response:
                if response.status != 200:
                    raise FeedError(f"the feed answered HTTP {response.status}")
                data = await response.content.read(MAX_FEED_BYTES + 1)
        except (ClientError, TimeoutError) as error:
            raise FeedError(f"could not fetch the feed ({type(error).__name__})") from None
        if len(data) > MAX_FEED_BYTES:
            raise FeedError(f"the feed is over {MAX_FEED_BYTES // (1024 * 1024)} MB")
        return data

    async def run(self) -> None:
        """Refresh until cancelled, looking a tenth of the interval apart (at least every 30 s)."""
        pause = min(30.0, self.interval.total_seconds() / 10)
        while True:
            try:
                await self.refresh_due()
            except Exception:
                log.exception("calendar feed refresh failed; trying again later")
            await asyncio.sleep(pause)
