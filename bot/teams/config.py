"""What the Teams bot and its app package need from Ackbot's settings; ``app.py`` builds it."""
from __future__ import annotations

from dataclasses import dataclass

from channels.teams import BotCredentials


@dataclass(frozen=True)
class TeamsConfig:
    """``credentials`` may be incomplete: the bot then stays off and ``credentials.problem()``
    says why. ``oauth_connection`` names the Bot Framework OAuth connection `link` signs in with;
    empty when there is none."""

    credentials: BotCredentials
    openid_metadata_url: str
    token_service_url: str
    oauth_connection: str = ""
