"""The email channel: one multipart message per page through an SMTP server (aiosmtplib).

SMTP 4xx replies and connection trouble are temporary; 5xx replies (unknown mailbox, refused
login) are permanent. The generated Message-ID is the provider id and the message reference, so
status notices thread under the page.
"""
from __future__ import annotations

import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import make_msgid

import aiosmtplib

from channels.base import BaseChannel, PermanentDeliveryError, TemporaryDeliveryError
from channels.email_message import build_message
from channels.types import Channel, ChannelDeliveryResult, ChannelTraits, NotificationPayload, Reach, StatusNotice, Tier


@dataclass(frozen=True, repr=False)
class SmtpConfig:
    host: str
    port: int
    sender: str
    username: str = ""
    password: str = ""
    starttls: bool = True
    implicit_tls: bool = False
    ca_file: str = ""
    timeout: float = 30.0

    def __repr__(self) -> str:
        return f"SmtpConfig(host={self.host!r}, port={self.port}, username={self.username!r}, password='***')"


class EmailChannel(BaseChannel):
    name = Channel.EMAIL
    traits = ChannelTraits(Reach.EMAIL_ADDRESS, Tier.PRIMARY, StatusNotice.NEW_MESSAGE, action_links=True)

    def __init__(self, config: SmtpConfig):
        self.config = config
        self._tls_context = ssl.create_default_context(cafile=config.ca_file or None)

    async def deliver(self, payload: NotificationPayload) -> ChannelDeliveryResult:
        if not payload.recipient.email:
            raise PermanentDeliveryError("the person has no email address")
        message = build_message(payload, self.config.sender)
        await self._send(message)
        message_id = message["Message-ID"]
        return ChannelDeliveryResult.sent(provider_id=message_id, message_reference={"message_id": message_id})

    async def send_text(self, address: str, subject: str, text: str) -> None:
        """A plain message that is not a page (a sign-in link); raises the delivery errors."""
        message = EmailMessage()
        message["From"], message["To"], message["Subject"] = self.config.sender, address, subject
        message["Message-ID"] = make_msgid(domain=self.config.sender.rpartition("@")[2].strip(">") or "ackbot.local")
        message.set_content(text)
        await self._send(message)

    async def _send(self, message) -> None:
        config = self.config
        try:
            await aiosmtplib.send(
                message, hostname=config.host, port=config.port, username=config.username or None,
                password=config.password or None, use_tls=config.implicit_tls,
                start_tls=config.starttls and not config.implicit_tls, tls_context=self._tls_context,
                timeout=config.timeout,
            )
        except aiosmtplib.SMTPRecipientsRefused as refused:
            raise _classified(refused.recipients[0]) from None
        except aiosmtplib.SMTPResponseException as error:
            raise _classified(error) from None
        except (aiosmtplib.SMTPException, OSError) as error:
            raise TemporaryDeliveryError(f"SMTP server unreachable: {type(error).__name__}: {error}") from None


def _classified(error: aiosmtplib.SMTPResponseException) -> Exception:
    text = f"SMTP {error.code}: {error.message}"
    if 400 <= error.code < 500:
        return TemporaryDeliveryError(text)
    return PermanentDeliveryError(text)
