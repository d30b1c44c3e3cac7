"""What the Grafana and Grafana OnCall routes share: acting on a parsed signal with one call into
``incidents``."""
from __future__ import annotations

from aiohttp import web

from bot.app_keys import SERVICE_KEY
from incidents.intake.grafana import Signal
from incidents.service import Actor
from storage.models import ApiKey


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
