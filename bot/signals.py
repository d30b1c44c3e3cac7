"""What the Grafana and Grafana OnCall routes share: reading the JSON body, acting on a parsed
signal with one call into ``incidents``, and the one short line a refused request is logged as."""
from __future__ import annotations

import json

from aiohttp import web

from bot.api import SERVICE_KEY
from incidents.intake import IntakeError
from incidents.intake.grafana import Signal
from incidents.service import Actor
from storage.models import ApiKey


async def read_json(request: web.Request):
    raw = await request.read()
    try:
        return json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as problem:
        raise IntakeError(None, f"the body is not valid JSON ({problem})", 400) from None


async def act_on(request: web.Request, signal: Signal, key: ApiKey, source: Actor) -> dict:
    """Trigger (or update) the signal's incident, or resolve it; what was done, as JSON."""
    service = request.app[SERVICE_KEY]
    if signal.firing:
        outcome = await service.trigger(signal.trigger, key)
        return {
            "incident": outcome.incident.id, "deduplicated": not outcome.created, "team": outcome.team_name,
            "alert_count": outcome.incident.alert_count,
        }
    if signal.resolved:
        assert signal.trigger.dedup_key is not None  # every intake format keys its signals
        resolved = await service.resolve_open(signal.trigger.dedup_key, source)
        return {"incident": resolved.incident.id if resolved else None, "resolved": bool(resolved)}
    return {"incident": None, "ignored": True}
