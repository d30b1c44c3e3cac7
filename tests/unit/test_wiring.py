"""The wiring in app.py: settings become typed values that keep secrets out of every repr, each
part is switched on by its settings alone, and every CLI command has a handler."""
from __future__ import annotations

import argparse

from app import Settings, channel_configs, command_context, slack_config, teams_config, twilio_auth_tokens
from bot import cli
from channels.push import generate_vapid_keys

SECRETS = {
    "ACKBOT_SMTP_HOST": "smtp.example.com", "ACKBOT_SMTP_PASSWORD": "smtp-hunter2",
    "ACKBOT_SLACK_CLIENT_ID": "1.2", "ACKBOT_SLACK_CLIENT_SECRET": "slack-client-s3cr3t",
    "ACKBOT_SLACK_SIGNING_SECRET": "slack-signing-s3cr3t",
    "ACKBOT_TEAMS_APP_ID": "teams-app", "ACKBOT_TEAMS_APP_PASSWORD": "teams-pa55word",
    "ACKBOT_TWILIO_ACCOUNT_SID": "AC1", "ACKBOT_TWILIO_AUTH_TOKEN": "twilio-t0ken",
    "ACKBOT_TWILIO_AUTH_TOKEN_SECONDARY": "twilio-sec0ndary", "ACKBOT_TWILIO_FROM_NUMBER": "+15555550100",
}
HIDDEN = ("smtp-hunter2", "slack-client-s3cr3t", "slack-signing-s3cr3t", "teams-pa55word", "twilio-t0ken", "twilio-sec0ndary")


def _settings(tmp_path, **environ) -> Settings:
    return Settings.from_env({"ACKBOT_DATA_DIR": str(tmp_path), **environ})


def test_typed_configuration_keeps_every_secret_out_of_its_repr(tmp_path):
    private_key, _ = generate_vapid_keys()
    settings = _settings(tmp_path, **SECRETS, ACKBOT_VAPID_PRIVATE_KEY=private_key)
    shown = " ".join(repr(value) for value in (
        channel_configs(settings), slack_config(settings), teams_config(settings), command_context(settings),
    ))
    for secret in (*HIDDEN, private_key):
        assert secret not in shown
    assert twilio_auth_tokens(settings) == ("twilio-t0ken", "twilio-sec0ndary")


def test_each_channel_is_on_exactly_when_its_settings_are_complete(tmp_path):
    everything = channel_configs(_settings(tmp_path, **SECRETS))
    assert everything.smtp and everything.twilio and everything.slack and everything.teams
    nothing = channel_configs(_settings(tmp_path))
    assert (nothing.smtp, nothing.push, nothing.twilio, nothing.slack, nothing.teams) == (None,) * 5
    without_signing = _settings(tmp_path, **{**SECRETS, "ACKBOT_SLACK_SIGNING_SECRET": ""})
    assert slack_config(without_signing) is None and channel_configs(without_signing).slack is None
    without_password = _settings(tmp_path, **{**SECRETS, "ACKBOT_TEAMS_APP_PASSWORD": ""})
    assert channel_configs(without_password).teams is None
    assert teams_config(without_password).credentials.problem() == "set ACKBOT_TEAMS_APP_PASSWORD"


def _leaf_commands(parser: argparse.ArgumentParser, path=()):
    actions = [action for action in parser._actions if isinstance(action, argparse._SubParsersAction)]
    if not actions:
        yield path, parser
        return
    for name, child in actions[0].choices.items():
        yield from _leaf_commands(child, (*path, name))


def test_every_command_has_a_handler_and_says_what_it_needs():
    leaves = list(_leaf_commands(cli.build_parser()))
    assert len(leaves) > 20
    for path, parser in leaves:
        assert callable(parser.get_default("handler")), path
        assert isinstance(parser.get_default("needs"), cli.Needs), path
