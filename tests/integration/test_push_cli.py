"""`ackbot vapid generate` and `ackbot push-link` as an operator uses them, on the embedded
SQLite default."""
from __future__ import annotations

import asyncio
import hashlib
import os
from pathlib import Path

import pytest

from app import main
from channels.push import public_key_of
from storage.database import close_database, open_database
from storage.fields import use_keyring
from storage.keyring import Keyring, generate_key
from storage.models import User


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    for name in list(os.environ):
        if name.startswith("ACKBOT_"):
            monkeypatch.delenv(name)
    key = generate_key()
    monkeypatch.setenv("ACKBOT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("ACKBOT_ENCRYPTION_KEYS", key)
    monkeypatch.setenv("ACKBOT_PUBLIC_URL", "https://ackbot.example.com")
    assert main(["migrate"]) == 0
    database_url = f"sqlite:///{tmp_path / 'data' / 'ackbot.db'}"

    async def add_alice():
        use_keyring(Keyring((key,)))
        open_database(database_url)
        await User.acreate(handle="alice", name="Alice")
        await close_database()

    asyncio.run(add_alice())
    return database_url


def _vapid_keys(capsys) -> tuple[str, str]:
    assert main(["vapid", "generate"]) == 0
    assignment, comment = capsys.readouterr().out.splitlines()
    return assignment.removeprefix("ACKBOT_VAPID_PRIVATE_KEY="), comment.rsplit(" ", 1)[1]


def test_vapid_generate_prints_a_working_pair_each_time_new(capsys):
    private, public = _vapid_keys(capsys)
    assert public_key_of(private) == public and len(private) == 43 and len(public) == 87
    assert _vapid_keys(capsys)[0] != private


def test_push_link_prints_a_one_time_url_and_stores_only_its_hash(workdir, monkeypatch, capsys):
    monkeypatch.setenv("ACKBOT_VAPID_PRIVATE_KEY", _vapid_keys(capsys)[0])
    assert main(["push-link", "alice"]) == 0
    url, note = capsys.readouterr().out.splitlines()
    assert url.startswith("https://ackbot.example.com/push/p/") and "one-time link for Alice" in note
    token = url.rsplit("/", 1)[1]
    folder = Path(workdir.removeprefix("sqlite:///")).parent
    content = b"".join(path.read_bytes() for path in folder.glob("ackbot.db*"))
    assert token.encode() not in content
    assert hashlib.sha256(token.encode()).hexdigest().encode() in content


def test_push_link_refuses_an_unknown_person_and_uses_the_generated_key_without_the_variable(workdir, monkeypatch, capsys):
    # On SQLite push is on without ACKBOT_VAPID_PRIVATE_KEY (test_first_run: off on PostgreSQL).
    assert main(["push-link", "alice"]) == 0
    assert "/push/p/" in capsys.readouterr().out
    assert (Path(workdir.removeprefix("sqlite:///")).parent / "vapid.key").exists()
    monkeypatch.setenv("ACKBOT_VAPID_PRIVATE_KEY", _vapid_keys(capsys)[0])
    assert main(["push-link", "mallory"]) == 1
    assert "no active person with the handle 'mallory'" in capsys.readouterr().err


def test_a_malformed_vapid_key_stops_every_command_with_one_line(workdir, monkeypatch, capsys):
    monkeypatch.setenv("ACKBOT_VAPID_PRIVATE_KEY", "not-a-key")
    assert main(["push-link", "alice"]) == 2
    assert capsys.readouterr().err.startswith("ackbot: error: ACKBOT_VAPID_PRIVATE_KEY: expected a P-256 private key")
