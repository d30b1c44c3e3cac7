"""What the Grafana, Grafana OnCall and Alertmanager routes share: acting on a parsed signal with
one call into ``incidents``, and the answer."""
from __future__ import annotations

from aiohttp import web

from bot.app_keys import SERVICE_KEY
from incidents.intake.grafana import Signal
from incidents.service import ActByKey, Actor, Kept
from storage.enums import Action
from storage.models import ApiKey

# What a signal kept in the intake inbox is answered (``IncidentService.take_trigger``).
KEPT_JSON = {"incident": None, "queued": True}


async def act_on(request: web.Request, signal: Signal, key: ApiKey, source: Actor) -> dict:
    """Trigger (or update) the signal's incident, or resolve it; what was done, as JSON."""
    service = request.app[SERVICE_KEY]
    if signal.firing:
        outcome = await service.take_trigger(signal.trigger, key)
        if isinstance(outcome, Kept):
            return KEPT_JSON
        return {
            "incident": outcome.incident.id, "deduplicated": not outcome.created, "team": outcome.team_name,
            "alert_count": outcome.incident.alert_count,
        }
    if signal.resolved:
        assert signal.trigger.dedup_key is not None  # every intake format keys its signals
        resolved = await service.take_act(ActByKey(Action.RESOLVE, signal.trigger.dedup_key, source), key)
        if isinstance(resolved, Kept):
            return KEPT_JSON
        return {"incident": resolved.incident.id if resolved else None, "resolved": bool(resolved)}
    return {"incident": None, "ignored": True}


def answer(body: dict) -> web.Response:
    """``body`` as JSON: 202 when its signal was kept in the intake inbox, else 200."""
    return web.json_response(body, status=202 if body.get("queued") else 200)
