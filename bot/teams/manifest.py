"""The Teams app package: ``manifests/teams/manifest.json`` filled in for the bot's app id and
ACKBOT_PUBLIC_URL, zipped with its two icons, ready to upload in Teams (Apps → Manage your
apps → Upload an app) or the Teams admin center."""
from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from string import Template
from urllib.parse import urlsplit

from bot.cli_error import CommandError
from bot.teams.config import TeamsConfig

FOLDER = Path(__file__).resolve().parents[2] / "manifests" / "teams"
ICONS = ("color.png", "outline.png")
# The Bot Framework token service's sign-in pages open inside Teams for `link` with OAuth.
TOKEN_SERVICE_DOMAIN = "token.botframework.com"


def render_manifest(app_id: str, public_url: str, version: str, oauth: bool) -> dict:
    """The manifest for the app; raises CommandError when Teams cannot accept it."""
    if not app_id:
        raise CommandError("set ACKBOT_TEAMS_APP_ID (the bot's Microsoft app id) first")
    parts = urlsplit(public_url)
    if parts.scheme != "https":
        raise CommandError(f"Teams needs an https:// ACKBOT_PUBLIC_URL, not {public_url}")
    text = Template((FOLDER / "manifest.json").read_text(encoding="utf-8")).substitute(
        app_id=app_id, public_url=public_url.rstrip("/"), public_host=parts.hostname, version=_semantic(version),
    )
    manifest = json.loads(text)
    if oauth:
        manifest["validDomains"].append(TOKEN_SERVICE_DOMAIN)
    return manifest


def _semantic(version: str) -> str:
    """Teams wants MAJOR.MINOR.PATCH; an unknown or local version becomes 1.0.0."""
    numbers = version.split("+")[0].split(".")
    return version if len(numbers) == 3 and all(number.isdigit() for number in numbers) else "1.0.0"


def package(manifest: dict) -> bytes:
    """The zip Teams takes: manifest.json and the icons at its root."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("manifest.json", json.dumps(manifest, indent=2, ensure_ascii=False))
        for icon in ICONS:
            archive.write(FOLDER / icon, icon)
    return buffer.getvalue()


def write_package(config: TeamsConfig, public_url: str, version: str, output: Path) -> Path:
    """Write the package of the bot ``config`` describes to ``output``; returns where it went."""
    manifest = render_manifest(config.credentials.app_id, public_url, version, bool(config.oauth_connection))
    output.write_bytes(package(manifest))
    return output
