"""Settings: one place reads the environment; bad values stop start-up naming the variable."""
import re
from dataclasses import fields
from pathlib import Path

import pytest

from app import Secret, Settings, SettingsError, main

README = Path(__file__).resolve().parents[2] / "README.md"


def test_every_setting_is_documented_in_the_readme():
    documented = set(re.findall(r"`(ACKBOT_[A-Z0-9_]+)`", README.read_text()))
    declared = {item.metadata["env"] for item in fields(Settings)}
    assert declared - documented == set()


def test_defaults_need_no_configuration(tmp_path):
    settings = Settings.from_env({"ACKBOT_DATA_DIR": str(tmp_path)})
    assert settings.database_url == f"sqlite:///{tmp_path / 'ackbot.db'}"
    assert (settings.host, settings.port, settings.public_url) == ("127.0.0.1", 8080, "http://127.0.0.1:8080")


@pytest.mark.parametrize(
    "variable, value, message",
    [
        ("ACKBOT_PORT", "eighty", "ACKBOT_PORT: expected a whole number"),
        ("ACKBOT_PORT", "70000", "ACKBOT_PORT: expected a port number"),
        ("ACKBOT_DATABASE_URL", "mysql://x", "ACKBOT_DATABASE_URL: expected sqlite"),
        ("ACKBOT_PUBLIC_URL", "ackbot.example.com", "ACKBOT_PUBLIC_URL: expected an http"),
        ("ACKBOT_ENCRYPTION_KEYS", "not-a-key", "ACKBOT_ENCRYPTION_KEYS: key 1 is not a valid key"),
        ("ACKBOT_MAGIC_LINK_TTL", "soon", "ACKBOT_MAGIC_LINK_TTL: expected a duration"),
        ("ACKBOT_DISPATCHER", "maybe", "ACKBOT_DISPATCHER: expected true or false"),
        ("ACKBOT_LEASE_SECONDS", "10", "ACKBOT_LEASE_SECONDS: must exceed ACKBOT_SEND_TIMEOUT"),
        ("ACKBOT_DATABASE_POOL_SIZE", "2", "ACKBOT_DATABASE_POOL_SIZE: must be 3 or more"),
    ],
)
def test_a_bad_value_names_the_variable(variable, value, message):
    with pytest.raises(SettingsError, match=f"^{re.escape(message)}"):
        Settings.from_env({variable: value})


def test_secrets_never_show_in_repr():
    settings = Settings.from_env({"ACKBOT_SMTP_PASSWORD": "hunter2", "ACKBOT_SLACK_SIGNING_SECRET": "s3cr3t"})
    assert "hunter2" not in repr(settings) and "s3cr3t" not in repr(settings)
    assert settings.smtp_password == Secret("hunter2")


def test_the_cli_reports_a_bad_setting_in_one_line_with_status_2(monkeypatch, capsys):
    monkeypatch.setenv("ACKBOT_PORT", "eighty")
    assert main(["migrate"]) == 2
    assert capsys.readouterr().err == "ackbot: error: ACKBOT_PORT: expected a whole number, got 'eighty'\n"


def test_postgres_without_keys_is_refused(monkeypatch, capsys, tmp_path):
    monkeypatch.setenv("ACKBOT_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("ACKBOT_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
    assert main(["migrate"]) == 2
    assert "ACKBOT_ENCRYPTION_KEYS: required with PostgreSQL" in capsys.readouterr().err
