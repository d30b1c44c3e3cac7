"""What the incident rules need to know about a channel, declared by the channel itself.

Each adapter in ``channels/`` declares its ``ChannelTraits``; ``app.py`` hands the table of
every known channel's traits to the engine (``EngineConfig.channel_traits``). Rules in
``incidents/`` read these traits and never a channel's name, so a new channel brings its
behaviour with it.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from incidents.tiers import ChannelEscalationConfig
from storage.enums import Channel, Tier


class Reach(StrEnum):
    """The contact detail a channel needs to reach a person."""

    EMAIL_ADDRESS = "email address"
    PHONE_NUMBER = "phone number"
    SLACK_ACCOUNT = "linked Slack account"
    TEAMS_CHAT = "linked Teams account with a chat"
    PUSH_SUBSCRIPTION = "push subscription"


class StatusNotice(StrEnum):
    """What a channel does when an incident it paged someone about changes."""

    EDITS_MESSAGE = "edits message"  # the page is redrawn in place, for the person who acted too
    NEW_MESSAGE = "new message"  # a fresh message: the person who acted there needs none
    NONE = "none"


class TeamChat(StrEnum):
    """Which of a team's chat channels (``Team`` columns, from the people file) a channel posts
    the team's incident cards to."""

    SLACK_CHANNEL = "slack_channel"
    TEAMS_CHANNEL = "teams_channel"


@dataclass(frozen=True)
class ChannelTraits:
    """How a channel behaves, as far as the incident rules care.

    ``reach``: the contact detail that lets it page a person. ``default_tier``: where it sits in
    the tiers of a person who chose none. ``status_notice``: what it does when the incident
    changes. ``action_links``: its Acknowledge/Resolve are one-time links (it cannot carry
    buttons). ``team_chat``: the team chat channel it posts cards to, None when it posts none.
    """

    reach: Reach
    default_tier: Tier
    status_notice: StatusNotice
    action_links: bool = False
    team_chat: TeamChat | None = None

    def notifies(self, acted_here: bool) -> bool:
        """Whether a person it paged gets a status notice; ``acted_here``: they changed the
        incident through this same channel."""
        if self.status_notice is StatusNotice.NONE:
            return False
        return not (acted_here and self.status_notice is StatusNotice.NEW_MESSAGE)


def default_tiers(traits: Mapping[Channel, ChannelTraits]) -> ChannelEscalationConfig:
    """The tiers of a person who chose none: each channel in its ``default_tier``, in the
    table's order."""

    def tier(wanted: Tier) -> tuple[Channel, ...]:
        return tuple(channel for channel, declared in traits.items() if declared.default_tier is wanted)

    return ChannelEscalationConfig(primary=tier(Tier.PRIMARY), secondary=tier(Tier.SECONDARY), fallback=tier(Tier.FALLBACK))
