"""A first run with no configuration: on SQLite Ackbot makes its own Web Push key in the data
folder once (one key however many starts race on the folder), keeps it across restarts and says
what to do first on an empty directory; on PostgreSQL push stays off and says why."""
from __future__ import annotations

import argparse
import json
import logging
import os
import stat
import threading
from pathlib import Path

import aiohttp
import pytest

import app as app_module
from app import (
    VAPID_KEY_FILE_NAME,
    Secret,
    Settings,
    command_context,
    create_app,
    off_reasons,
    open_storage,
    resolve_vapid_key,
    start_up_hints,
)
from bot.cli import CommandError, push_link_command
from channels.push import generate_vapid_keys
from incidents.directory import PeopleDirectory
from storage.database import close_database, database
from storage.keyring import load_or_create_key_file
from storage.models import PushSubscription, User
from tests.fakes.push_service import BrowserSubscription
from tests.integration.web_support import csrf_of, sign_in
from tests.reliability.outage_support import REPO_ROOT, Processes, free_port, healthz, wait_until

GENERATED = "generated a Web Push (VAPID) key in"
FIRST_STEP = "nobody is listed yet: apply a people file first (`ackbot directory apply people.example.toml`)"
POSTGRES_REASON = (
    "off: set ACKBOT_VAPID_PRIVATE_KEY: it is required with PostgreSQL, where all instances share one key"
    " (make one with `ackbot vapid generate`)"
)


def _environment(data_dir: Path, port: int) -> dict:
    environment = {name: value for name, value in os.environ.items() if not name.startswith("ACKBOT_")}
    environment.update({
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")])),
        "ACKBOT_DATA_DIR": str(data_dir), "ACKBOT_PORT": str(port),
    })
    return environment


async def _serve_once(folder: Path, environment: dict, name: str) -> tuple[dict, str]:
    """``ackbot serve`` started, asked /healthz once it answers, and stopped: (health, log)."""
    base_url = f"http://127.0.0.1:{environment['ACKBOT_PORT']}"
    with Processes(folder, environment) as processes:
        processes.start(name, "serve")
        async with aiohttp.ClientSession() as session:

            async def answering() -> bool:
                assert processes.alive()[name], processes.log(name)
                return (await healthz(session, base_url))[0] == 200

            await wait_until(answering, 60, "ackbot serve to answer /healthz")
            _, health = await healthz(session, base_url)
        assert (await processes.stop())[name] == 0
        return health, processes.log(name)


async def test_a_first_start_makes_the_push_key_once_keeps_it_and_says_what_to_do_first(tmp_path, caplog):
    data_dir = tmp_path / "ackbot-data"
    health, log = await _serve_once(tmp_path, _environment(data_dir, free_port()), "first")
    key_file = data_dir / VAPID_KEY_FILE_NAME
    assert health["channels"]["push"] == "on"
    assert log.count(GENERATED) == 1 and f"{GENERATED} {key_file}; keep it" in log
    assert log.count(FIRST_STEP) == 1
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600

    # Restarted, after the first step: the same key, and nothing more to say.
    caplog.set_level(logging.WARNING, "ackbot")
    settings = resolve_vapid_key(Settings(data_dir=data_dir).with_defaults())
    assert settings.vapid_private_key == Secret(key_file.read_text().strip())
    app = create_app(settings)
    await open_storage(settings, apply_migrations=True)
    try:
        await PeopleDirectory().apply_file(REPO_ROOT / "people.example.toml")
        await start_up_hints(off_reasons(settings), app)
    finally:
        await close_database()
    assert GENERATED not in caplog.text and FIRST_STEP not in caplog.text


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_set_variable_wins_over_the_generated_key(settings):
    private_key, _ = generate_vapid_keys()
    configured = resolve_vapid_key(settings.replace(vapid_private_key=Secret(private_key)))
    assert configured.vapid_private_key == Secret(private_key)
    assert not (settings.data_dir / VAPID_KEY_FILE_NAME).exists()


def _race(start, folder: Path, runners: int = 8) -> list:
    """``start(folder)`` in ``runners`` threads let go at the same moment; what each returned."""
    barrier = threading.Barrier(runners)
    results: list = [None] * runners

    def run(index: int) -> None:
        barrier.wait()
        results[index] = start(folder)

    threads = [threading.Thread(target=run, args=(index,)) for index in range(runners)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return results


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_starts_racing_on_one_data_folder_end_with_one_key(settings, tmp_path, caplog, monkeypatch):
    made = []
    monkeypatch.setattr(app_module, "generate_vapid_keys", lambda: made.append(1) or generate_vapid_keys())
    caplog.set_level(logging.WARNING, "ackbot")
    rounds = 10
    for round_number in range(rounds):
        folder = tmp_path / f"round-{round_number}"
        keys = _race(lambda data_dir: resolve_vapid_key(settings.replace(data_dir=data_dir)).vapid_private_key, folder)
        assert len(set(keys)) == 1 and keys[0] == Secret((folder / VAPID_KEY_FILE_NAME).read_text().strip())
        assert os.listdir(folder) == [VAPID_KEY_FILE_NAME]  # no temporary file left behind
        encryption = _race(load_or_create_key_file, folder)
        assert len({key for key, _ in encryption}) == 1 and sum(created for _, created in encryption) == 1
    assert caplog.text.count(GENERATED) == rounds
    assert len(made) > rounds  # several starts did make a key at once, and all but one lost the race


@pytest.mark.parametrize("database_url", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True)
async def test_on_postgresql_push_stays_off_and_healthz_and_the_log_say_why(settings, aiohttp_client, caplog):
    configured = resolve_vapid_key(settings)
    assert configured.vapid_private_key is None
    assert not (settings.data_dir / VAPID_KEY_FILE_NAME).exists()
    client = await aiohttp_client(create_app(configured))
    assert (await (await client.get("/healthz")).json())["channels"]["push"] == POSTGRES_REASON

    caplog.set_level(logging.WARNING, "ackbot")
    await start_up_hints(off_reasons(configured), client.app)
    assert f"Web Push is off: {POSTGRES_REASON.removeprefix('off: ')}" in caplog.text
    with pytest.raises(CommandError, match="push is off: set ACKBOT_VAPID_PRIVATE_KEY"):
        await push_link_command(argparse.Namespace(user="alice"), command_context(configured))


async def test_the_own_page_keeps_a_subscription_only_for_a_signed_in_form_and_names_what_is_wrong(settings, aiohttp_client):
    configured = resolve_vapid_key(settings) if settings.is_embedded else settings.replace(
        vapid_private_key=Secret(generate_vapid_keys()[0]))
    client = await aiohttp_client(create_app(configured))
    await User.acreate(handle="alice", name="Alice")
    browser = BrowserSubscription("https://push.example.net/wpush/v2/alice")
    subscription = json.dumps(browser.to_json())
    assert (await client.post("/me/push", data={"subscription": subscription})).status == 403  # not signed in
    await sign_in(client, "alice")
    page = await client.get("/me")
    assert "Turn on notifications in this browser" in await page.text()
    csrf = await csrf_of(client, "/me")
    assert (await client.post("/me/push", data={"subscription": subscription, "csrf": "0" * 64})).status == 403
    for bad, field in (("{", None), (json.dumps({**browser.to_json(), "endpoint": "http://push.example.net/x"}), "endpoint")):
        refused = await client.post("/me/push", data={"subscription": bad, "csrf": csrf})
        assert refused.status in (400, 422) and (await refused.json()).get("field") == field
    assert await database.list(PushSubscription.select()) == []
    kept = await client.post("/me/push", data={"subscription": subscription, "csrf": csrf})
    assert kept.status == 201 and (await kept.json())["message"] == "Done: this browser will get Ackbot pages for Alice."
    [row] = await database.list(PushSubscription.select())
    assert (row.endpoint, row.p256dh, row.auth) == (browser.endpoint, browser.p256dh, browser.auth)
    tested = await client.post("/me/test", data={"csrf": csrf})
    assert "Test page queued on push." in await tested.text()


async def test_the_own_page_says_why_push_is_off(settings, aiohttp_client):
    client = await aiohttp_client(create_app(settings))
    await User.acreate(handle="alice", name="Alice")
    await sign_in(client, "alice")
    text = await (await client.get("/me")).text()
    assert "Push notifications are off on this Ackbot: set ACKBOT_VAPID_PRIVATE_KEY" in text
    assert "Turn on notifications in this browser" not in text
    answer = await client.post("/me/push", data={"subscription": "{}", "csrf": await csrf_of(client, "/me")})
    assert answer.status == 503
