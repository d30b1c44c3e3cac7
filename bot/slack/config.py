"""What the Slack app needs from Ackbot's settings; ``app.py`` builds it while Slack is on."""
from __future__ import annotations

from dataclasses import dataclass

BOT_SCOPES = ("chat:write", "chat:write.public", "commands", "im:write", "users:read", "users:read.email")
LINK_USER_SCOPES = ("users:read", "users:read.email")


@dataclass(frozen=True, repr=False)
class SlackConfig:
    client_id: str
    client_secret: str
    signing_secret: str
    api_url: str
    public_url: str

    @property
    def redirect_uri(self) -> str:
        return f"{self.public_url}/slack/oauth_redirect"

    @property
    def link_url(self) -> str:
        return f"{self.public_url}/slack/link"

    def __repr__(self) -> str:
        return f"SlackConfig(client_id={self.client_id!r}, api_url={self.api_url!r}, secrets='***')"
