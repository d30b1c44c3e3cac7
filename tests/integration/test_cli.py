"""The `ackbot` command line as an operator uses it, on the embedded SQLite default."""
from __future__ import annotations

import asyncio
import json
import os
import stat
import subprocess
import sys

import pytest

from app import main
from storage.database import close_database, open_database
from storage.enums import DeliveryStatus
from storage.fields import use_keyring, utcnow
from storage.keyring import Keyring, generate_key, key_id_of
from storage.models import Incident, NotificationLog, SlackConnection, Team, User


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    monkeypatch.setenv("ACKBOT_DATA_DIR", str(tmp_path / "data"))
    for name in list(os.environ):
        if name.startswith("ACKBOT_") and name != "ACKBOT_DATA_DIR":
            monkeypatch.delenv(name)
    return tmp_path


def test_the_embedded_default_generates_its_key_once_and_privately(workdir, capsys):
    assert main(["migrate"]) == 0
    key_file = workdir / "data" / "encryption.key"
    first = key_file.read_text()
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert main(["migrate"]) == 0
    assert key_file.read_text() == first
    assert "schema is up to date" in capsys.readouterr().out


def _store_token(database_url: str, key: str) -> None:
    async def store():
        use_keyring(Keyring((key,)))
        open_database(database_url)
        user = await User.acreate(handle="alice", name="Alice")
        await SlackConnection.acreate(user=user, access_token="xoxp-secret", slack_user_id="U1", slack_team_id="T1")
        await close_database()

    asyncio.run(store())


def test_keys_rotate_then_the_old_key_can_go(workdir, monkeypatch, capsys):
    old, new = generate_key(), generate_key()
    monkeypatch.setenv("ACKBOT_ENCRYPTION_KEYS", old)
    assert main(["migrate"]) == 0
    _store_token(f"sqlite:///{workdir / 'data' / 'ackbot.db'}", old)

    monkeypatch.setenv("ACKBOT_ENCRYPTION_KEYS", new)
    assert main(["migrate"]) == 2
    assert f"encrypted with key id {key_id_of(old)}, which is not configured" in capsys.readouterr().err

    monkeypatch.setenv("ACKBOT_ENCRYPTION_KEYS", f"{new},{old}")
    assert main(["keys", "rotate"]) == 0
    assert main(["keys", "rotate"]) == 0
    out = capsys.readouterr().out
    assert f"re-encrypted 1 value(s) under key id {key_id_of(new)}" in out
    assert f"re-encrypted 0 value(s) under key id {key_id_of(new)}" in out

    monkeypatch.setenv("ACKBOT_ENCRYPTION_KEYS", new)
    assert main(["migrate"]) == 0


def test_apikey_create_prints_the_key_once_and_stores_only_its_hash(workdir, capsys):
    assert main(["apikey", "create", "grafana"]) == 0
    key = capsys.readouterr().out.splitlines()[0]
    assert key.startswith("ackbot_")
    database_bytes = (workdir / "data" / "ackbot.db").read_bytes()
    assert key.encode() not in database_bytes
    assert main(["apikey", "create", "grafana"]) == 1
    assert "already exists" in capsys.readouterr().err


def test_status_of_a_bad_or_unknown_incident_is_a_clear_error(workdir, capsys):
    assert main(["status", "abc"]) == 1
    assert main(["status", "7"]) == 1
    err = capsys.readouterr().err
    assert "expected an incident number like 42, got 'abc'" in err and "no incident #7" in err


def _store_incident(database_url: str) -> None:
    async def store():
        open_database(database_url)
        team = await Team.acreate(name="payments", display_name="Payments")
        user = await User.acreate(handle="alice", name="Alice")
        now = utcnow()
        incident = await Incident.acreate(title="DB primary down", priority="CRITICAL", service="db", team=team, triggered_at=now)
        await NotificationLog.acreate(
            incident=incident, user=user, channel="SMS", status=DeliveryStatus.FAILED, attempt_count=1, tier="secondary",
            error="Twilio error 21614: not a mobile number", escalation_level=1, queued_at=now,
        )
        await close_database()

    asyncio.run(store())


def test_status_and_list_print_json_for_scripts(workdir, capsys):
    assert main(["migrate"]) == 0
    _store_incident(f"sqlite:///{workdir / 'data' / 'ackbot.db'}")
    capsys.readouterr()
    assert main(["status", "1", "--json"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert (status["number"], status["status"], status["team"]) == (1, "TRIGGERED", "payments")
    [line] = status["notifications"]
    assert (line["person"], line["channel"], line["status"], line["error"]) == (
        "Alice", "SMS", "FAILED", "Twilio error 21614: not a mobile number")
    assert main(["list", "--json"]) == 0
    assert [(row["number"], row["title"]) for row in json.loads(capsys.readouterr().out)["incidents"]] == [(1, "DB primary down")]
    assert main(["status", "1"]) == 0
    assert "Twilio error 21614" in capsys.readouterr().out  # the full grid stays the default


def test_every_command_has_help(capsys):
    # One through the real entry point; the others in this process, the same parser after the
    # interpreter's start (each start spends a second or more importing the application).
    result = subprocess.run([sys.executable, "-m", "app", "serve", "--help"], capture_output=True, text=True)
    assert result.returncode == 0 and result.stdout.startswith("usage: ackbot serve"), result.stderr
    for command in (["serve"], ["worker"], ["migrate"], ["keys", "rotate"], ["directory", "apply"],
                    ["apikey", "create"], ["status"], ["list"], ["version"]):
        with pytest.raises(SystemExit) as exit_:
            main([*command, "--help"])
        assert exit_.value.code == 0 and capsys.readouterr().out.startswith("usage: ackbot"), command


def test_serve_with_a_bad_setting_exits_2_without_a_traceback(workdir):
    environment = {**os.environ, "ACKBOT_PORT": "0"}
    result = subprocess.run([sys.executable, "-m", "app", "serve"], capture_output=True, text=True, env=environment)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip() == "ackbot: error: ACKBOT_PORT: expected a port number from 1 to 65535, got '0'"


def test_apikey_create_binds_a_team_and_keeps_a_given_key(workdir, capsys, tmp_path):
    people = tmp_path / "people.toml"
    people.write_text('[[teams]]\nname = "payments"\n')
    assert main(["directory", "apply", str(people)]) == 0
    capsys.readouterr()
    token = "aB3dE6gH9jK2mN5pQ8sT1vW4y"  # an OnCall integration token: 25 letters and digits
    assert main(["apikey", "create", "oncall", "--team", "payments", "--service", "checkout", "--key", token]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out == [token, "(API key 'oncall' created, bound to team payments, service checkout; this is the only time it is shown)"]
    assert token.encode() not in (workdir / "data" / "ackbot.db").read_bytes()
    assert main(["apikey", "list"]) == 0
    assert capsys.readouterr().out == "oncall  aB3d…  active  team payments  service checkout\n"
    assert main(["apikey", "create", "other", "--team", "sre"]) == 1
    assert "--team: no team named 'sre'" in capsys.readouterr().err


def test_route_prints_where_a_sample_would_go_and_why(workdir, capsys, tmp_path):
    people = tmp_path / "people.toml"
    people.write_text(
        '[[teams]]\nname = "payments"\n[[teams]]\nname = "platform"\n'
        '[routing]\ndefault_team = "platform"\n'
        '[[routing.rules]]\nmatch = { namespace = "pay-*" }\nteam = "payments"\npriority = "critical"\n'
    )
    assert main(["directory", "apply", str(people)]) == 0
    sample = tmp_path / "alert.json"
    sample.write_text('{"title": "disk full", "team": "sre", "service": "db"}')
    capsys.readouterr()
    assert main(["route", str(sample)]) == 0
    assert capsys.readouterr().out == (
        "format:   native\nteam:     platform\npriority: HIGH\nservice:  db\n"
        "why:      No team 'sre': routed to platform by default\n"
    )
    sample.write_text(
        '{"version": "4", "groupKey": "{}:{}", "status": "firing", "alerts": [{"status": "firing",'
        ' "labels": {"alertname": "Down", "namespace": "pay-eu"}}], "commonLabels": {"namespace": "pay-eu"}}'
    )
    assert main(["route", str(sample)]) == 0
    out = capsys.readouterr().out
    assert "format:   alertmanager\nteam:     payments\npriority: CRITICAL\n" in out
    assert 'why:      Routed to payments by routing rule 1 (namespace="pay-*")' in out
    assert main(["route", str(sample), "--key", "nobody"]) == 1
    assert "no API key named 'nobody'" in capsys.readouterr().err


@pytest.mark.parametrize(
    "content, message",
    [
        (None, "cannot read: No such file or directory"),
        ("{not json", "not a JSON body"),
        ('{"title": 7}', "title: must be a string (read as native; the route would refuse it with 422)"),
        ('{"version": "4", "groupKey": "k", "status": "firing", "alerts": [{"status": "burning", "labels": {}}]}',
         "alerts[0].status: must be \"firing\" or \"resolved\" (read as alertmanager;"),
    ],
)
def test_route_names_what_is_wrong_with_a_bad_sample(workdir, capsys, tmp_path, content, message):
    sample = tmp_path / "alert.json"
    if content is not None:
        sample.write_text(content)
    assert main(["route", str(sample)]) == 1
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def _keep_failed_signal(database_url: str) -> None:
    from datetime import timedelta

    from incidents import inbox_store
    from incidents.intake import TriggerRequest
    from storage.database import database
    from storage.models import IntakeSignal

    async def keep():
        open_database(database_url)
        now = utcnow()
        signals = [(TriggerRequest(title="Disk full", dedup_key="disk-full"), None), (TriggerRequest(title="Fine"), None)]
        await database.run(inbox_store.keep, signals, "gone-worker", timedelta(minutes=1), now)
        first = await database.get(IntakeSignal.select().order_by(IntakeSignal.id))
        await IntakeSignal.update(failed_at=now, error="ValueError: no such column").where(IntakeSignal.id == first.id).aexecute()
        await close_database()

    asyncio.run(keep())


def test_inbox_status_shows_what_waits_and_retry_works_failed_signals_again(workdir, capsys):
    assert main(["migrate"]) == 0
    database_url = f"sqlite:///{workdir / 'data' / 'ackbot.db'}"
    _keep_failed_signal(database_url)
    capsys.readouterr()
    assert main(["inbox", "status"]) == 0
    out = capsys.readouterr().out
    assert "waiting: 1 (the oldest kept " in out and "failed: 1" in out
    assert "trigger dedup key 'disk-full'" in out and "ValueError: no such column" in out
    assert main(["inbox", "retry", "999"]) == 1
    assert "no such failed intake signal" in capsys.readouterr().err
    with pytest.raises(SystemExit) as refused:
        main(["inbox", "retry", "first"])
    assert refused.value.code == 2 and "expected a signal id" in capsys.readouterr().err
    assert main(["inbox", "retry"]) == 0
    assert "1 intake signal(s) will be worked again" in capsys.readouterr().out
    assert main(["inbox", "status"]) == 0
    assert "waiting: 2" in capsys.readouterr().out
