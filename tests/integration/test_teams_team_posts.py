"""Incident cards in a team's Teams channel, through the real application and the fake Bot
Connector, on SQLite and PostgreSQL: the app says the channel ID when added to a team, posts each
incident there, replaces the card whichever surface acts, and fails visibly where it is not."""
from __future__ import annotations

from bot.app_keys import DISPATCHER_KEY, SERVICE_KEY
from channels.teams import NO_TEAM_CHANNEL
from incidents import api_keys
from incidents.intake import TriggerRequest
from storage.models import Incident, IncidentEvent, Team, TeamPost
from tests.integration.test_teams_bot import (  # noqa: F401 (fixtures)
    TENANT,
    activity,
    buttons,
    click,
    client,
    connector,
    install,
    send,
    teams_settings,
    texts,
)

GENERAL = "19:general@thread.tacv2"


async def _add_to_team(client, connector) -> None:
    team_data = {"tenant": {"id": TENANT}, "team": {"id": "19:team@thread.tacv2", "name": "SRE"}}
    added = activity(connector, "installationUpdate", scope="channel", action="add", channelData=team_data)
    assert (await send(client, connector, added)).status == 201


async def _page(client, title: str = "DB primary down") -> int:
    request = TriggerRequest(title=title, priority="CRITICAL", service="db", team="payments")
    number = (await client.app[SERVICE_KEY].trigger(request)).incident.id
    while await client.app[DISPATCHER_KEY].run_once():
        pass
    return number


def _channel_posts(connector) -> list[str]:
    return [request.path for request in connector.requests if request.method == "POST" and GENERAL in request.path]


async def test_added_to_a_team_the_app_says_which_id_to_put_in_the_people_file(client, connector):
    await _add_to_team(client, connector)
    [greeting] = connector.posted()
    assert f'teams_channel = "{GENERAL}"' in greeting["text"]
    [path] = _channel_posts(connector)
    assert path.startswith(f"/amer/v3/conversations/{GENERAL}/activities")


async def test_each_incident_is_posted_and_the_card_follows_every_change(client, connector):
    await _add_to_team(client, connector)
    await Team.update(teams_channel=GENERAL).where(Team.name == "payments").aexecute()
    number = await _page(client)
    card = connector.posted()[-1]["attachments"][0]["content"]
    assert texts(card)[0] == f"CRITICAL · #{number} · DB primary down"
    assert buttons(card) == [("Action.Execute", "acknowledge"), ("Action.Execute", "resolve"), ("Action.OpenUrl", "Open in Ackbot")]
    [post] = await TeamPost._meta.database.list(TeamPost.select().where(TeamPost.incident == number))
    assert (post.channel, post.status) == ("TEAMS", "SENT")
    activity_id = post.message_reference["activity_id"]

    key = await api_keys.ApiKeys().create("monitoring")
    await client.post(f"/api/v1/incidents/{number}/acknowledge", headers={"Authorization": f"Bearer {key}"})
    await client.app[DISPATCHER_KEY].run_once()
    (path, replaced), = connector.updated()
    assert path == f"/amer/v3/conversations/{GENERAL}/activities/{activity_id}"
    content = replaced["attachments"][0]["content"]
    assert any(text.startswith("Acknowledged by API key monitoring via the API at ") for text in texts(content))
    assert buttons(content) == [("Action.Execute", "resolve"), ("Action.OpenUrl", "Open in Ackbot")]


async def test_a_linked_team_member_acts_from_the_channel_card(client, connector):
    await install(client, connector)
    await _add_to_team(client, connector)
    await Team.update(teams_channel=GENERAL).where(Team.name == "payments").aexecute()
    number = await _page(client)
    clicked = click(connector, "resolve", number)
    clicked["conversation"] = {"id": GENERAL, "conversationType": "channel", "tenantId": TENANT}
    answer = await (await send(client, connector, clicked)).json()
    assert any(text.startswith("Resolved by Alice via Teams at ") for text in texts(answer["value"]))
    incident = await Incident.aget_by_id(number)
    assert (incident.status, incident.resolved_by_name) == ("RESOLVED", "Alice")


async def test_a_channel_the_app_was_not_added_to_fails_visibly(client, connector):
    await Team.update(teams_channel="19:elsewhere@thread.tacv2").where(Team.name == "payments").aexecute()
    number = await _page(client)
    [post] = await TeamPost._meta.database.list(TeamPost.select().where(TeamPost.incident == number))
    assert post.status == "FAILED" and post.error.startswith("the Ackbot app is not in this Teams channel's team")
    failed = await IncidentEvent._meta.database.list(
        IncidentEvent.select().where((IncidentEvent.incident == number) & (IncidentEvent.kind == "FAILED"))
    )
    assert [event.message for event in failed] == [
        f"Post to the team's Teams channel 19:elsewhere@thread.tacv2 failed: {NO_TEAM_CHANNEL}"
    ]
    assert connector.posted() == []
