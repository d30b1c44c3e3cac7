"""`ackbot manifest teams`: the app package Teams takes, filled in for the app id and public URL."""
from __future__ import annotations

import json
import struct
import zipfile

import pytest

from app import main
from bot.cli import CommandError
from bot.teams.manifest import render_manifest

APP_ID = "0b1c2d3e-0000-4000-8000-00000000a11b"


def test_the_command_writes_a_zip_with_the_manifest_and_icons(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("ACKBOT_TEAMS_APP_ID", APP_ID)
    monkeypatch.setenv("ACKBOT_PUBLIC_URL", "https://ackbot.example.com")
    monkeypatch.setenv("ACKBOT_TEAMS_OAUTH_CONNECTION", "aad")
    output = tmp_path / "teams.zip"
    assert main(["manifest", "teams", "--output", str(output)]) == 0
    assert capsys.readouterr().out.strip() == f"wrote {output}"
    with zipfile.ZipFile(output) as archive:
        assert sorted(archive.namelist()) == ["color.png", "manifest.json", "outline.png"]
        manifest = json.loads(archive.read("manifest.json"))
        sizes = {name: struct.unpack(">II", archive.read(name)[16:24]) for name in ("color.png", "outline.png")}
    assert manifest["$schema"].endswith("/v1.17/MicrosoftTeams.schema.json") and manifest["manifestVersion"] == "1.17"
    assert manifest["id"] == APP_ID and manifest["bots"][0]["botId"] == APP_ID
    assert manifest["bots"][0]["scopes"] == ["personal", "team"]
    assert manifest["developer"]["websiteUrl"] == "https://ackbot.example.com"
    assert manifest["validDomains"] == ["ackbot.example.com", "token.botframework.com"]
    assert sizes == {"color.png": (192, 192), "outline.png": (32, 32)}
    commands = manifest["bots"][0]["commandLists"][0]["commands"]
    assert [command["title"] for command in commands] == ["status", "ack", "resolve", "list", "test", "link", "help"]
    assert all(len(command["description"]) <= 128 for command in commands)


def test_without_oauth_the_token_service_is_not_a_valid_domain():
    manifest = render_manifest(APP_ID, "https://ackbot.example.com/", "0.1.0", oauth=False)
    assert manifest["validDomains"] == ["ackbot.example.com"] and manifest["version"] == "0.1.0"


@pytest.mark.parametrize(
    "app_id, public_url, problem",
    [("", "https://ackbot.example.com", "ACKBOT_TEAMS_APP_ID"), (APP_ID, "http://127.0.0.1:8080", "https://")],
)
def test_what_teams_cannot_take_is_refused_with_the_reason(app_id, public_url, problem):
    with pytest.raises(CommandError, match=problem):
        render_manifest(app_id, public_url, "0.1.0", oauth=False)


def test_the_command_reports_a_missing_app_id(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("ACKBOT_TEAMS_APP_ID", raising=False)
    monkeypatch.setenv("ACKBOT_PUBLIC_URL", "https://ackbot.example.com")
    assert main(["manifest", "teams", "--output", str(tmp_path / "x.zip")]) == 1
    assert "ACKBOT_TEAMS_APP_ID" in capsys.readouterr().err
    assert not (tmp_path / "x.zip").exists()
