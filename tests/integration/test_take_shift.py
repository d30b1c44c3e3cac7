"""Taking a shift now from chat (here by SMS, through the real webhook and the shared command
grammar) and overrides from the CLI, on SQLite and PostgreSQL: who may, what the database holds,
what the person replaced receives, and that ``directory apply`` leaves these overrides alone."""
from __future__ import annotations

import itertools
import xml.etree.ElementTree as ET

import pytest

import app
from app import Secret, create_app
from bot.app_keys import DISPATCHER_KEY
from incidents.directory import PeopleDirectory
from storage.enums import Channel
from storage.models import ShiftOverride, User
from tests.fakes.channel import FixedClock, ScriptedChannel
from tests.fakes.twilio_api import ACCOUNT_SID, AUTH_TOKEN, FROM_NUMBER, signed

PUBLIC_URL = "http://ackbot.test"
ALICE, BOB, OLIVIA = "+15550100001", "+15550100002", "+15550100003"
PEOPLE = f"""
[[teams]]
name = "payments"

[[schedules]]
name = "payments-primary"
time_zone = "Europe/Berlin"
team = "payments"

[[schedules.rotations]]
users = ["bob", "carol"]
start = "2026-11-02T09:00"
shift = "1d"

[[users]]
handle = "alice"
name = "Alice"
phone = "{ALICE}"
teams = ["payments"]

[[users]]
handle = "bob"
name = "Bob"
email = "bob@example.com"
time_zone = "Europe/Berlin"
teams = ["payments"]

[[users]]
handle = "carol"
name = "Carol"
teams = ["payments"]

[[users]]
handle = "olivia"
name = "Olivia"
phone = "{OLIVIA}"
"""


@pytest.fixture
def people_file(tmp_path):
    path = tmp_path / "people.toml"
    path.write_text(PEOPLE)
    return path


@pytest.fixture
async def phone(aiohttp_client, settings, people_file):
    settings = settings.replace(
        twilio_account_sid=ACCOUNT_SID, twilio_auth_token=Secret(AUTH_TOKEN), twilio_from_number=FROM_NUMBER,
    )
    client = await aiohttp_client(create_app(
        settings, channels={channel: ScriptedChannel(channel) for channel in (Channel.EMAIL, Channel.SMS)},
        clock=FixedClock(),  # Sat 28 Nov 2026 15:00 in Berlin: Bob's day, until Sun 09:00
    ))
    await PeopleDirectory().apply_file(people_file)
    return client


_SIDS = itertools.count(1)


async def sms(client, text: str, number: str = ALICE) -> str:
    # Each message its own sid, as Twilio gives: a repeated sid is a replay, answered as the first.
    params = {"From": number, "To": FROM_NUMBER, "Body": text, "MessageSid": f"SMin{next(_SIDS)}"}
    response = await client.post("/twilio/sms", data=params, headers=signed(PUBLIC_URL + "/twilio/sms", params, AUTH_TOKEN))
    assert response.status == 200
    return [child.text for child in ET.fromstring(await response.text())][0]


async def test_take_puts_the_asker_on_call_until_the_shift_ends_and_tells_the_person_replaced(phone, people_file):
    assert await sms(phone, "ONCALL") == (
        "payments-primary: Bob (bob), Sat 28 Nov 09:00 CET - Sun 29 Nov 09:00 CET"
        " (your time Sat 28 Nov 08:00 UTC - Sun 29 Nov 08:00 UTC)"
    )
    assert await sms(phone, "TAKE") == (
        "You are on call for payments-primary instead of bob (they are told) until Sun 29 Nov 09:00 CET"
        " (Sun 29 Nov 08:00 UTC your time)."
    )
    assert (await sms(phone, "oncall payments")).startswith("payments-primary: Alice (alice) by override, Sat 28 Nov 15:00 CET")
    await phone.app[DISPATCHER_KEY].run_once()
    (notice,) = phone.app[DISPATCHER_KEY].channels[Channel.EMAIL].sent
    assert (notice.recipient.email, notice.title) == (
        "bob@example.com", "Alice takes your payments-primary shift until Sun 29 Nov 09:00 CET",
    )
    assert notice.actions == ()
    await PeopleDirectory().apply_file(people_file)
    assert len(await ShiftOverride._meta.database.list(ShiftOverride.select())) == 1


async def test_take_for_a_duration_and_only_people_on_the_team(phone):
    assert (await sms(phone, "take payments-primary 2h")).startswith(
        "You are on call for payments-primary instead of bob (they are told) until Sat 28 Nov 17:00 CET"
    )
    assert await sms(phone, "TAKE payments-primary", number=OLIVIA) == "Only people on payments may take payments-primary shifts."
    assert await sms(phone, "TAKE nights") == "There is no schedule named nights."
    assert "at most 14 days" in await sms(phone, "TAKE 30d")
    overrides = await ShiftOverride._meta.database.list(ShiftOverride.select())
    alice = await User.aget(User.handle == "alice")
    assert [(row.user_id, row.created_by) for row in overrides] == [(alice.id, "Alice")]


@pytest.fixture
def cli_env(monkeypatch, tmp_path, people_file):
    for name in ("ACKBOT_ENCRYPTION_KEYS", "ACKBOT_LOG_LEVEL", "ACKBOT_DATABASE_POOL_SIZE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ACKBOT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("ACKBOT_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    assert app.main(["directory", "apply", str(people_file)]) == 0


def test_the_cli_adds_lists_and_removes_overrides_for_anyone(cli_env, capsys):
    capsys.readouterr()
    assert app.main(["override", "add", "payments-primary", "olivia", "--from", "2026-12-24T18:00", "--for", "3h"]) == 0
    assert capsys.readouterr().out == (
        "added override 1  payments-primary: olivia instead of bob, Thu 24 Dec 18:00 CET – Thu 24 Dec 21:00 CET"
        " (by the command line); bob is told\n"
    )
    assert app.main(["override", "list", "payments-primary"]) == 0
    assert capsys.readouterr().out.startswith("1  payments-primary: olivia instead of bob")
    assert app.main(["oncall", "payments-primary", "--at", "2026-12-24T19:00", "--json"]) == 0
    assert '"handle": "olivia"' in capsys.readouterr().out
    assert app.main(["override", "remove", "1"]) == 0
    assert app.main(["override", "remove", "1"]) == 1
    assert "no override 1" in capsys.readouterr().err
    assert app.main(["override", "add", "payments-primary", "zoe", "--for", "1h"]) == 1
    assert "no active person with the handle 'zoe'" in capsys.readouterr().err
    assert app.main(["override", "add", "payments-primary", "olivia"]) == 1
    assert "give either --to TIME or --for DURATION" in capsys.readouterr().err
