"""Channel tiers: which channels a person is paged on first, second and last (the seed's
ChannelEscalationConfig). Pure data; ``channels.types`` re-exports it. A person who chose no
tiers gets the ones the channels declare (``incidents.channel_traits.default_tiers``)."""
from __future__ import annotations

from dataclasses import dataclass

from storage.enums import Channel, Tier


@dataclass(frozen=True)
class ChannelEscalationConfig:
    """Primary channels are tried in parallel; secondary when primary fails or goes unanswered;
    fallback last. A channel appears in at most one tier."""

    primary: tuple[Channel, ...]
    secondary: tuple[Channel, ...]
    fallback: tuple[Channel, ...]

    def tiers(self) -> tuple[tuple[Tier, tuple[Channel, ...]], ...]:
        """The non-empty tiers in paging order."""
        ordered = (
            (Tier.PRIMARY, self.primary),
            (Tier.SECONDARY, self.secondary),
            (Tier.FALLBACK, self.fallback),
        )
        return tuple((tier, channels) for tier, channels in ordered if channels)

