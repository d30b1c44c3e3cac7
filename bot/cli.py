"""The CLI: its parser, with each command's handler attached next to the command's parser
(``set_defaults(handler=..., needs=...)``), and the handlers. ``app.main`` parses, prepares what
the command ``needs`` (the settings, a ``Context``, the open database) and calls the handler.
Each handler prints what it did and returns the exit status; a refusal raises CommandError."""
from __future__ import annotations

import argparse
import enum
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from zoneinfo import ZoneInfo

from bot.api import incidents_json, report_json
from bot.calendar_feed import feed_url
from bot.cli_error import CommandError
from bot.commands import parse_duration, parse_number, parse_time
from bot.oncall_views import oncall_json, oncall_text, when
from bot.render import incident_list, status_grid, timeline_text
from bot.slack import manifest as slack_manifest
from bot.teams import manifest as teams_manifest
from bot.teams.config import TeamsConfig
from channels.push import generate_vapid_keys
from incidents import api_keys, heartbeats, intake_inbox, push_links
from incidents.calendar_links import UnknownSubject
from incidents.directory import DirectoryError, PeopleDirectory
from incidents.intake import IntakeError
from incidents.intake.samples import FORMATS, detect_format, parse_sample
from incidents.oncall import UnknownSchedule
from incidents.oncall_report import UnknownTarget
from incidents.service import IncidentNotFound, IncidentService, UnknownTeam
from incidents.shift_overrides import OverrideRefused, OverrideView
from incidents.web_sessions import UnknownPerson, WebSessions
from storage.enums import IncidentStatus
from storage.fields import current_keyring
from storage.keyring import generate_key
from storage.rotation import rotate_all

__all__ = ["CommandError", "Context", "Needs", "build_parser", "package_version"]


class Needs(enum.Enum):
    """What ``app.main`` prepares before a command's handler runs, and so how it calls it."""

    NOTHING = "nothing"  # handler(args) -> int, whatever the settings say
    SETTINGS = "settings"  # handler(args, context) -> int; the database stays closed
    DATABASE = "database"  # await handler(args, context) -> int, with the database open
    MIGRATIONS = "migrations"  # as DATABASE, with pending migrations applied first


@dataclass(frozen=True)
class Context:
    """What handlers get from ``app.py``: typed values built from the settings, and the two runs
    only the composition root can start. Building it does no I/O."""

    service: IncidentService
    public_url: str
    web_sessions: WebSessions
    subscribe_links: push_links.SubscribeLinks | None  # None while push is off
    teams: TeamsConfig
    serve: Callable[[], int]
    run_worker: Callable[[], Awaitable[int]]


def package_version() -> str:
    try:
        return metadata.version("ackbot")
    except metadata.PackageNotFoundError:
        return "unknown"


def version_command(args) -> int:
    print(f"ackbot {package_version()}")
    return 0


def keys_generate_command(args) -> int:
    print(generate_key())
    return 0


def vapid_generate_command(args) -> int:
    private_key, public_key = generate_vapid_keys()
    print(f"ACKBOT_VAPID_PRIVATE_KEY={private_key}\n# public key (Ackbot gives it to browsers itself): {public_key}")
    return 0


def manifest_command(args, context: Context) -> int:
    if args.app == "teams":
        written = teams_manifest.write_package(context.teams, context.public_url, package_version(), args.output)
        print(f"wrote {written}")
    else:
        print(slack_manifest.render_manifest(context.public_url))
    return 0


def serve_command(args, context: Context) -> int:
    return context.serve()


async def worker_command(args, context: Context) -> int:
    return await context.run_worker()


async def migrate_command(args, context: Context) -> int:
    print("schema is up to date")
    return 0


async def rotate_keys_command(args, context: Context) -> int:
    count = await rotate_all()
    print(f"re-encrypted {count} value(s) under key id {current_keyring().primary_id}")
    return 0


async def directory_apply_command(args, context: Context) -> int:
    try:
        print(await PeopleDirectory().apply_file(args.file))
    except DirectoryError as error:
        raise CommandError(str(error)) from None
    return 0


async def apikey_create_command(args, context: Context) -> int:
    name, team, service, key = args.name, args.team, args.service, args.key
    try:
        plain = await api_keys.ApiKeys().create(name, team=team, service=service, key=key)
    except api_keys.ApiKeyError as error:
        raise CommandError(str(error)) from None
    bound = ", ".join(f"{what} {value}" for what, value in (("team", team), ("service", service)) if value)
    print(plain)
    print(f"(API key {name!r} created{f', bound to {bound}' if bound else ''}; this is the only time it is shown)", flush=True)
    return 0


async def apikey_list_command(args, context: Context) -> int:
    for key in await api_keys.ApiKeys().all_keys():
        state = f"revoked {key.revoked_at:%Y-%m-%d}" if key.revoked_at else "active"
        bound = "".join(f"  {what} {value}" for what, value in (("team", key.team_name), ("service", key.service)) if value)
        print(f"{key.name}  {key.prefix}…  {state}{bound}")
    return 0


async def apikey_revoke_command(args, context: Context) -> int:
    name = args.name
    if not await api_keys.ApiKeys().revoke(name):
        raise CommandError(f"no active API key named {name!r}")
    print(f"revoked API key {name!r}")
    return 0


async def inbox_status_command(args, context: Context) -> int:
    state = await intake_inbox.inbox_state()
    oldest = f" (the oldest kept {state.oldest_kept_at:%Y-%m-%d %H:%M:%S} UTC)" if state.oldest_kept_at else ""
    print(f"waiting: {state.waiting}{oldest}")
    print(f"failed: {state.failed_count}")
    for signal in state.failed:
        key = f" dedup key {signal.dedup_key!r}" if signal.dedup_key else ""
        print(f"  {signal.id}  {signal.action}{key}  kept {signal.received_at:%Y-%m-%d %H:%M:%S} UTC  {signal.error}")
    if state.failed_count > len(state.failed):
        print(f"  … and {state.failed_count - len(state.failed)} more")
    return 0


async def inbox_retry_command(args, context: Context) -> int:
    count = await intake_inbox.retry_failed(args.ids)
    if not count:
        raise CommandError("no such failed intake signal" if args.ids else "no failed intake signal")
    print(f"{count} intake signal(s) will be worked again, by the next ackbot serve or worker to look")
    return 0


async def heartbeat_create_command(args, context: Context) -> int:
    name, team, timeout_text, key, public_url = args.name, args.team, args.timeout, args.key, context.public_url
    try:
        timeout = heartbeats.parse_timeout(timeout_text)
        key = await heartbeats.Heartbeats().create(name, team, timeout, key)
    except heartbeats.HeartbeatError as error:
        raise CommandError(str(error)) from None
    print(f"{public_url}/heartbeats/{key}")
    print(f"(heartbeat {name!r} created: GET or POST that URL at least every {heartbeats.describe_timeout(int(timeout.total_seconds()))};"
          f" {public_url}/integrations/v1/webhook/{key}/heartbeat/ works too. This is the only time the key is shown)",
          flush=True)
    return 0


async def heartbeat_list_command(args, context: Context) -> int:
    for heartbeat, team in await heartbeats.Heartbeats().all_heartbeats():
        if heartbeat.expired_at is not None:
            state = f"silent since {heartbeat.deadline_at:%Y-%m-%d %H:%M} UTC (incident open)"
        elif heartbeat.last_ping_at is None:
            state = "no ping yet"
        else:
            state = f"last ping {heartbeat.last_ping_at:%Y-%m-%d %H:%M:%S} UTC"
        timeout = heartbeats.describe_timeout(heartbeat.timeout_seconds)
        print(f"{heartbeat.name}  team {team or '(default)'}  every {timeout}  {heartbeat.prefix}…  {state}")
    return 0


async def heartbeat_remove_command(args, context: Context) -> int:
    name = args.name
    if not await heartbeats.Heartbeats().remove(name):
        raise CommandError(f"no heartbeat named {name!r}")
    print(f"removed heartbeat {name!r}")
    return 0


async def route_command(args, context: Context) -> int:
    """Print where the sample body in ``args.file`` would be routed, and why; changes nothing."""
    service, path, key_name, format_name = context.service, args.file, args.key, args.format
    data = _read_sample(path)
    name = format_name or detect_format(data)
    try:
        request = parse_sample(data, name)
        chosen = await service.preview_route(request, key_name)
    except IntakeError as error:
        raise CommandError(f"{path}: {error} (read as {name}; the route would refuse it with {error.status})") from None
    except LookupError as error:
        raise CommandError(str(error)) from None
    print(f"format:   {name}")
    print(f"team:     {chosen.team or '(none: nobody would be paged)'}")
    print(f"priority: {chosen.priority}")
    print(f"service:  {chosen.service or '(none)'}")
    print(f"why:      {chosen.reason}")
    return 0


def _read_sample(path: Path) -> object:
    try:
        return json.loads(path.read_bytes())
    except OSError as error:
        raise CommandError(f"{path}: cannot read: {error.strerror or error}") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise CommandError(f"{path}: not a JSON body ({error})") from None


def parse_incident_number(text: str) -> int:
    number = parse_number(text)
    if number is None:
        raise CommandError(f"expected an incident number like 42, got {text!r}")
    return number


async def status_command(args, context: Context) -> int:
    """The delivery grid, or with ``--json`` the document ``GET /api/v1/incidents/N`` answers."""
    number = parse_incident_number(args.number)
    try:
        report = await context.service.status(number)
    except IncidentNotFound as error:
        raise CommandError(str(error)) from None
    if args.json:
        print(json.dumps(report_json(report), indent=2))
        return 0
    print(status_grid(report))
    print()
    print(timeline_text(report))
    return 0


async def list_command(args, context: Context) -> int:
    """One line per incident, or with ``--json`` the document ``GET /api/v1/incidents`` answers."""
    statuses = tuple(IncidentStatus) if args.all else None
    incidents = await context.service.list_incidents(statuses, args.team)
    print(json.dumps(incidents_json(incidents), indent=2) if args.json else incident_list(incidents))
    return 0


async def push_link_command(args, context: Context) -> int:
    links = context.subscribe_links
    if links is None:
        raise CommandError("push is off: set ACKBOT_VAPID_PRIVATE_KEY (make one with `ackbot vapid generate`)")
    try:
        link = await push_links.PushLinks().issue_for_handle(args.user, links.public_url, links.ttl)
    except push_links.UnknownPerson as error:
        raise CommandError(str(error)) from None
    print(link.url)
    print(f"(one-time link for {link.person}: it subscribes one browser; it works until"
          f" {link.expires_at:%Y-%m-%d %H:%M} UTC)", flush=True)
    return 0


async def login_link_command(args, context: Context) -> int:
    sessions = context.web_sessions
    try:
        url, name = await sessions.issue_link(args.user)
    except UnknownPerson as error:
        raise CommandError(str(error)) from None
    minutes = round(sessions.link_ttl.total_seconds() / 60)
    print(url)
    print(f"(one-time sign-in link to the web view for {name}; it works once, for {minutes} minutes)", flush=True)
    return 0


async def sessions_revoke_command(args, context: Context) -> int:
    handle = args.user
    try:
        count = await context.web_sessions.revoke(handle)
    except UnknownPerson as error:
        raise CommandError(str(error)) from None
    print(f"signed out {count} web session(s) of {handle}")
    return 0


async def oncall_command(args, context: Context) -> int:
    service, target, at_text, upcoming, as_json = context.service, args.target, args.at, args.next, args.json
    at = _cli_time("--at", at_text) if at_text is not None else None
    try:
        lines = await service.on_call(target=target, at=at, upcoming=upcoming)
    except (UnknownSchedule, UnknownTeam, UnknownTarget) as error:
        raise CommandError(str(error)) from None
    print(json.dumps({"oncall": oncall_json(lines)}, indent=2) if as_json else oncall_text(lines, "UTC"))
    return 0


async def calendar_link_command(args, context: Context) -> int:
    service, name, public_url, revoke = context.service, args.name, context.public_url, args.revoke
    try:
        if revoke:
            count = await service.revoke_calendar_links(name)
            print(f"revoked {count} calendar link(s) of {name}")
            return 0
        token = await service.calendar_link(name)
    except UnknownSubject as error:
        raise CommandError(str(error)) from None
    print(feed_url(public_url, token))
    print(f"(private calendar feed of {name}: subscribe to it by URL; any older link of {name} stopped working)", flush=True)
    return 0


def _override_line(view: OverrideView) -> str:
    zone = ZoneInfo(view.time_zone)
    replaced = f" instead of {view.replaced}" if view.replaced else ""
    return (f"{view.id}  {view.schedule}: {view.handle}{replaced}, {when(view.start, zone)} – {when(view.end, zone)}"
            f" (by {view.created_by})")


async def override_add_command(args, context: Context) -> int:
    service, schedule, handle = context.service, args.schedule, args.user
    start_text, end_text, length_text = args.start, args.end, args.length
    start = _cli_time("--from", start_text) if start_text else service.clock()
    if (end_text is None) == (length_text is None):
        raise CommandError("give either --to TIME or --for DURATION (like 2h or 1d)")
    if length_text is not None:
        length = parse_duration(length_text)
        if length is None:
            raise CommandError(f"--for: expected a duration like 30m, 2h or 1d (at most 14 days), got {length_text!r}")
        end = start + length
    else:
        assert end_text is not None  # exactly one of --to and --for, checked above
        end = _cli_time("--to", end_text)
    try:
        view = await service.add_override(schedule, handle, start, end, "the command line")
    except (UnknownSchedule, OverrideRefused) as error:
        raise CommandError(str(error)) from None
    print(f"added override {_override_line(view)}" + (f"; {view.replaced} is told" if view.replaced else ""))
    return 0


async def override_list_command(args, context: Context) -> int:
    try:
        views = await context.service.list_overrides(args.schedule)
    except UnknownSchedule as error:
        raise CommandError(str(error)) from None
    print("\n".join(_override_line(view) for view in views) if views else "no overrides now or to come")
    return 0


async def override_remove_command(args, context: Context) -> int:
    service, id_text = context.service, args.id
    if not (id_text.isascii() and id_text.isdigit()) or len(id_text) > 12:
        raise CommandError(f"expected an override number (see ackbot override list), got {id_text!r}")
    view = await service.remove_override(int(id_text))
    if view is None:
        raise CommandError(f"no override {id_text}")
    print(f"removed override {_override_line(view)}")
    return 0


def _cli_time(option: str, text: str):
    moment = parse_time(text)
    if moment is None:
        raise CommandError(f"{option}: expected a time like 2026-12-07T09:00 (the schedule's zone) or with an offset, got {text!r}")
    return moment


def _signal_id(text: str) -> int:
    if not (text.isascii() and text.isdigit()) or len(text) > 18:
        raise argparse.ArgumentTypeError(f"expected a signal id from ackbot inbox status, got {text!r}")
    return int(text)


def _upcoming_count(text: str) -> int:
    if not (text.isascii() and text.isdigit()) or not 0 <= int(text) <= 50:
        raise argparse.ArgumentTypeError(f"expected a whole number from 0 to 50, got {text!r}")
    return int(text)


def _command(commands, name: str, summary: str, description: str | None = None, *, handler=None,
             needs: Needs = Needs.DATABASE):
    """The parser of command ``name``; ``handler`` runs it (a group of commands has none)."""
    parser = commands.add_parser(name, help=summary, description=description or summary[0].upper() + summary[1:] + ".")
    if handler is not None:
        parser.set_defaults(handler=handler, needs=needs)
    return parser


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ackbot", description="Ackbot: incident notifications you can acknowledge from anywhere."
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    _command(commands, "serve", "run the HTTP server and, unless ACKBOT_DISPATCHER=false, the dispatcher",
             handler=serve_command, needs=Needs.SETTINGS)
    _command(commands, "worker", "run the dispatcher alone (no HTTP server); several may share PostgreSQL",
             handler=worker_command)
    _command(commands, "migrate", "create or upgrade the database schema; safe to run again",
             handler=migrate_command, needs=Needs.MIGRATIONS)
    keys = _command(commands, "keys", "manage encryption keys").add_subparsers(dest="action", metavar="ACTION", required=True)
    _command(keys, "generate", "print a new key to put first in ACKBOT_ENCRYPTION_KEYS",
             handler=keys_generate_command, needs=Needs.NOTHING)
    _command(keys, "rotate", "re-encrypt every stored secret under the first key",
             "Re-encrypt every stored secret under the first key of ACKBOT_ENCRYPTION_KEYS. Safe to re-run;"
             " afterwards the older keys can be removed.", handler=rotate_keys_command)
    directory = _command(commands, "directory", "manage teams and people").add_subparsers(
        dest="action", metavar="ACTION", required=True)
    _command(directory, "apply", "apply a people file (teams, users, channel tiers, escalation levels)",
             handler=directory_apply_command).add_argument(
        "file", type=Path, help="the people file (TOML), e.g. people.example.toml")
    apikey = _command(commands, "apikey", "manage intake API keys").add_subparsers(dest="action", metavar="ACTION", required=True)
    create = _command(apikey, "create", "create a key and print it once", handler=apikey_create_command)
    create.add_argument("name", help="what the key is for")
    create.add_argument("--team", help="route alerts sent with this key to this team (unless a routing rule matches)")
    create.add_argument("--service", help="the service of alerts sent with this key that name none")
    create.add_argument("--key", help="keep this key string (one a sender already has configured: an OnCall integration"
                        " token, a PagerDuty routing key, an Opsgenie key) instead of generating one")
    _command(apikey, "list", "list keys (names and prefixes, never the keys)", handler=apikey_list_command)
    _command(apikey, "revoke", "revoke a key", handler=apikey_revoke_command).add_argument("name")
    heartbeat = _command(commands, "heartbeat", "manage heartbeats (an incident opens when a sender stops pinging)").add_subparsers(
        dest="action", metavar="ACTION", required=True)
    create = _command(heartbeat, "create", "create a heartbeat and print its ping URL once", handler=heartbeat_create_command)
    create.add_argument("name", help="what pings, e.g. nightly-backup")
    create.add_argument("--team", help="the team paged when it goes silent (default: routing decides)")
    create.add_argument("--timeout", required=True, help="longest silence before an incident opens, e.g. 10m, 2h, 1d")
    create.add_argument("--key", help="keep a key a sender already uses (e.g. a Grafana OnCall integration key)")
    _command(heartbeat, "list", "list heartbeats: timeout, last ping, whether one is silent", handler=heartbeat_list_command)
    _command(heartbeat, "remove", "remove a heartbeat", handler=heartbeat_remove_command).add_argument("name")
    route = _command(commands, "route", "print which team a sample alert body would reach, and why (changes nothing)",
                     handler=route_command)
    route.add_argument("file", type=Path, help="a JSON body as a sender posts it (native, Alertmanager, PagerDuty, Opsgenie)")
    route.add_argument("--key", metavar="NAME", help="as if sent with the API key called NAME (its team and service)")
    route.add_argument("--format", choices=sorted(FORMATS), help="the body's format (default: told from its shape)")
    status = _command(commands, "status", "show an incident's delivery grid per person and channel, and its timeline",
                      handler=status_command)
    status.add_argument("number", help="the incident number, e.g. 42")
    status.add_argument("--json", action="store_true", help="print JSON (as GET /api/v1/incidents/N answers) instead of the grid")
    listing = _command(commands, "list", "list open incidents", handler=list_command)
    listing.add_argument("--all", action="store_true", help="include resolved incidents")
    listing.add_argument("--team", help="only this team's incidents")
    listing.add_argument("--json", action="store_true", help="print JSON (as GET /api/v1/incidents answers)")
    oncall = _command(commands, "oncall", "show who is on call now (or --at a time), per schedule", handler=oncall_command)
    oncall.add_argument("target", nargs="?", help="a schedule or team name (default: every schedule)")
    oncall.add_argument("--at", help="a time like 2026-12-07T09:00 (each schedule's zone) or 2026-12-07T08:00Z")
    oncall.add_argument("--next", type=_upcoming_count, default=0, metavar="N", help="also show the next N shifts")
    oncall.add_argument("--json", action="store_true", help="print JSON")
    override = _command(commands, "override", "manage shift overrides made outside the people file").add_subparsers(
        dest="action", metavar="ACTION", required=True)
    add = _command(override, "add", "put someone on call for a schedule, over its rotations", handler=override_add_command)
    add.add_argument("schedule", help="the schedule name")
    add.add_argument("user", help="the person's handle")
    add.add_argument("--from", dest="start", help="when it starts (default now); a time without a zone is the schedule's")
    add.add_argument("--to", dest="end", help="when it ends")
    add.add_argument("--for", dest="length", help="how long it lasts instead, like 2h or 1d")
    _command(override, "list", "list overrides now or to come", handler=override_list_command).add_argument(
        "schedule", nargs="?")
    _command(override, "remove", "remove an override", handler=override_remove_command).add_argument(
        "id", help="its number in ackbot override list")
    calendar = _command(commands, "calendar-link", "print a private calendar feed URL for a person or a schedule",
                        handler=calendar_link_command)
    calendar.add_argument("name", help="a person's handle or a schedule name")
    calendar.add_argument("--revoke", action="store_true", help="turn the feed off instead")
    vapid = _command(commands, "vapid", "manage the Web Push (VAPID) key").add_subparsers(
        dest="action", metavar="ACTION", required=True)
    _command(vapid, "generate", "print a new key pair; the private key goes in ACKBOT_VAPID_PRIVATE_KEY",
             handler=vapid_generate_command, needs=Needs.NOTHING)
    _command(commands, "push-link", "print a one-time link that subscribes a browser to a person's push pages",
             handler=push_link_command).add_argument("user", help="the person's handle, e.g. alice")
    manifest = _command(commands, "manifest", "print the Slack app manifest or write the Teams app package for ACKBOT_PUBLIC_URL",
                        handler=manifest_command, needs=Needs.SETTINGS)
    manifest.add_argument("app", choices=["slack", "teams"], help="which app: slack (paste into api.slack.com/apps → Create"
                          " app → From a manifest) or teams (a zip to upload in Teams → Apps → Manage your apps)")
    manifest.add_argument("--output", type=Path, default=Path("ackbot-teams.zip"),
                          help="where the Teams app package goes (default: ackbot-teams.zip)")
    _command(commands, "login-link", "print a one-time link that signs a person in to the web view",
             handler=login_link_command).add_argument("user", help="the person's handle, e.g. alice")
    sessions = _command(commands, "sessions", "manage web view sessions").add_subparsers(
        dest="action", metavar="ACTION", required=True)
    _command(sessions, "revoke", "sign a person out of the web view in every browser",
             handler=sessions_revoke_command).add_argument("user", help="the person's handle, e.g. alice")
    inbox = _command(commands, "inbox", "inspect the intake inbox (alerts kept while intake was past its budget)").add_subparsers(
        dest="action", metavar="ACTION", required=True)
    _command(inbox, "status", "how many kept alerts wait, and every one that could not be worked", handler=inbox_status_command)
    _command(inbox, "retry", "work failed alerts again (all, or the given ids), once the cause is fixed",
             handler=inbox_retry_command).add_argument("ids", nargs="*", type=_signal_id, metavar="ID")
    _command(commands, "version", "print the version", handler=version_command, needs=Needs.NOTHING)
    return parser
