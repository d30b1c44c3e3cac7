"""The CLI's commands that work on the database (``app.main`` parses and opens storage first).
Each prints what it did and returns the exit status; a refusal raises CommandError."""
from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from bot.render import incident_list, status_grid
from incidents import api_keys, push_links
from incidents.directory import DirectoryError, apply_people_file
from incidents.service import IncidentNotFound, IncidentService
from storage.enums import IncidentStatus
from storage.fields import utcnow
from storage.rotation import rotate_all


class CommandError(Exception):
    """A command could not do what was asked; the message says why (exit status 1)."""


async def migrate_command() -> int:
    print("schema is up to date")
    return 0


async def rotate_keys_command(primary_key_id: str) -> int:
    count = await rotate_all()
    print(f"re-encrypted {count} value(s) under key id {primary_key_id}")
    return 0


async def directory_apply_command(path: Path) -> int:
    try:
        print(await apply_people_file(path))
    except DirectoryError as error:
        raise CommandError(str(error)) from None
    return 0


async def apikey_create_command(name: str) -> int:
    try:
        key = await api_keys.create_api_key(name)
    except api_keys.ApiKeyError as error:
        raise CommandError(str(error)) from None
    print(key)
    print(f"(API key {name!r} created; this is the only time it is shown)", flush=True)
    return 0


async def apikey_list_command() -> int:
    for key in await api_keys.list_api_keys():
        state = f"revoked {key.revoked_at:%Y-%m-%d}" if key.revoked_at else "active"
        print(f"{key.name}  {key.prefix}…  {state}")
    return 0


async def apikey_revoke_command(name: str) -> int:
    if not await api_keys.revoke_api_key(name):
        raise CommandError(f"no active API key named {name!r}")
    print(f"revoked API key {name!r}")
    return 0


def parse_incident_number(text: str) -> int:
    digits = text.lstrip("#")
    if not digits.isdigit():
        raise CommandError(f"expected an incident number like 42, got {text!r}")
    return int(digits)


async def status_command(service: IncidentService, number_text: str) -> int:
    number = parse_incident_number(number_text)
    try:
        report = await service.status(number)
    except IncidentNotFound as error:
        raise CommandError(str(error)) from None
    print(status_grid(report))
    return 0


async def list_command(service: IncidentService, show_all: bool, team: str | None) -> int:
    statuses = tuple(IncidentStatus) if show_all else None
    print(incident_list(await service.list_incidents(statuses, team)))
    return 0


async def push_link_command(handle: str, public_url: str, ttl: timedelta, push_enabled: bool) -> int:
    if not push_enabled:
        raise CommandError("push is off: set ACKBOT_VAPID_PRIVATE_KEY (make one with `ackbot vapid generate`)")
    try:
        link = await push_links.issue_subscribe_link(handle, public_url, ttl, utcnow())
    except push_links.UnknownPerson as error:
        raise CommandError(str(error)) from None
    print(link.url)
    print(f"(one-time link for {link.person}: it subscribes one browser; it works until"
          f" {link.expires_at:%Y-%m-%d %H:%M} UTC)", flush=True)
    return 0
