"""What the web view is handed by ``app.py``."""
from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from incidents.web_sessions import WebSessions
from incidents.web_views import WebViews

# (address, sign-in link) -> sends the link; None when email is switched off.
SignInMailer = Callable[[str, str], Awaitable[None]]


@dataclass(frozen=True)
class WebConfig:
    sessions: WebSessions
    views: WebViews
    secure_cookies: bool
    mail_sign_in_link: SignInMailer | None = None
    live_interval: float = 1.0
