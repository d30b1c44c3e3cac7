"""What the Slack app needs from Ackbot's settings."""
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

    @classmethod
    def from_settings(cls, settings) -> SlackConfig | None:
        """The Slack configuration, or None when Slack is off (client id, client secret or signing
        secret missing)."""
        if not (settings.slack_client_id and settings.slack_client_secret and settings.slack_signing_secret):
            return None
        return cls(
            client_id=settings.slack_client_id, client_secret=settings.slack_client_secret.reveal(),
            signing_secret=settings.slack_signing_secret.reveal(), api_url=settings.slack_api_url,
            public_url=settings.public_url,
        )

    @property
    def redirect_uri(self) -> str:
        return f"{self.public_url}/slack/oauth_redirect"

    @property
    def link_url(self) -> str:
        return f"{self.public_url}/slack/link"

    def __repr__(self) -> str:
        return f"SlackConfig(client_id={self.client_id!r}, api_url={self.api_url!r}, secrets='***')"
