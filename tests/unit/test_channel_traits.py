"""Channel traits: what each adapter declares, and the rules that read them instead of names."""
from __future__ import annotations

from dataclasses import FrozenInstanceError

import pytest

from channels.registry import ADAPTERS, CHANNEL_TRAITS, DEFAULT_CHANNEL_ESCALATION
from incidents.channel_traits import ChannelTraits, Reach, StatusNotice, TeamChat, default_tiers
from incidents.lifecycle import EngineConfig
from incidents.tiers import ChannelEscalationConfig
from storage.enums import Channel, Tier

PIGEON = ChannelTraits(Reach.PHONE_NUMBER, Tier.SECONDARY, StatusNotice.EDITS_MESSAGE, team_chat=TeamChat.SLACK_CHANNEL)


def test_every_channel_has_the_traits_its_adapter_declares():
    assert set(CHANNEL_TRAITS) == set(Channel)
    assert all(CHANNEL_TRAITS[adapter.name] is adapter.traits for adapter in ADAPTERS)
    with pytest.raises(FrozenInstanceError):
        CHANNEL_TRAITS[Channel.EMAIL].action_links = False  # type: ignore[misc]


def test_the_declared_traits_are_the_behaviour_ackbot_had():
    def having(wanted) -> set[Channel]:
        return {channel for channel, traits in CHANNEL_TRAITS.items() if wanted(traits)}

    assert having(lambda traits: traits.action_links) == {Channel.EMAIL, Channel.PUSH}
    assert having(lambda traits: not traits.notifies(acted_here=False)) == {Channel.VOICE}
    assert having(lambda traits: traits.notifies(acted_here=True)) == {Channel.SLACK, Channel.TEAMS}
    assert {channel: traits.team_chat for channel, traits in CHANNEL_TRAITS.items() if traits.team_chat} == {
        Channel.SLACK: TeamChat.SLACK_CHANNEL, Channel.TEAMS: TeamChat.TEAMS_CHANNEL,
    }
    assert {channel: traits.reach for channel, traits in CHANNEL_TRAITS.items()} == {
        Channel.EMAIL: Reach.EMAIL_ADDRESS, Channel.SMS: Reach.PHONE_NUMBER, Channel.VOICE: Reach.PHONE_NUMBER,
        Channel.SLACK: Reach.SLACK_ACCOUNT, Channel.TEAMS: Reach.TEAMS_CHAT, Channel.PUSH: Reach.PUSH_SUBSCRIPTION,
    }
    assert DEFAULT_CHANNEL_ESCALATION == ChannelEscalationConfig(
        primary=(Channel.EMAIL, Channel.SLACK, Channel.TEAMS, Channel.PUSH),
        secondary=(Channel.SMS,),
        fallback=(Channel.VOICE,),
    )


@pytest.mark.parametrize(
    ("notice", "elsewhere", "here"),
    [(StatusNotice.EDITS_MESSAGE, True, True), (StatusNotice.NEW_MESSAGE, True, False), (StatusNotice.NONE, False, False)],
)
def test_a_status_notice_follows_what_the_channel_does_with_its_message(notice, elsewhere, here):
    traits = ChannelTraits(Reach.EMAIL_ADDRESS, Tier.PRIMARY, notice)
    assert (traits.notifies(acted_here=False), traits.notifies(acted_here=True)) == (elsewhere, here)


def test_default_tiers_come_from_the_declared_tiers_in_table_order():
    table = {"PIGEON": PIGEON, Channel.VOICE: CHANNEL_TRAITS[Channel.VOICE], Channel.SMS: CHANNEL_TRAITS[Channel.SMS]}
    assert default_tiers(table).tiers() == ((Tier.SECONDARY, ("PIGEON", Channel.SMS)), (Tier.FALLBACK, (Channel.VOICE,)))


def test_the_engine_config_reads_reach_and_team_chats_from_the_traits_of_enabled_channels():
    table = {**CHANNEL_TRAITS, "PIGEON": PIGEON}
    config = EngineConfig(enabled_channels=frozenset({"PIGEON", Channel.EMAIL, Channel.TEAMS}), channel_traits=table)
    assert config.reach == {"PIGEON": Reach.PHONE_NUMBER, Channel.EMAIL: Reach.EMAIL_ADDRESS, Channel.TEAMS: Reach.TEAMS_CHAT}
    assert config.team_chats == {Channel.TEAMS: TeamChat.TEAMS_CHANNEL, "PIGEON": TeamChat.SLACK_CHANNEL}
    assert config.default_tiers.secondary == (Channel.SMS, "PIGEON")


def test_an_enabled_channel_without_traits_is_refused():
    with pytest.raises(ValueError, match="PIGEON"):
        EngineConfig(enabled_channels=frozenset({"PIGEON", Channel.EMAIL}), channel_traits=CHANNEL_TRAITS)
