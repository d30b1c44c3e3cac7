"""The Slack app manifest (``manifests/slack_manifest.json``) filled in for a public URL, ready
for "Create an app → From a manifest" at api.slack.com/apps."""
from __future__ import annotations

import json
from pathlib import Path
from string import Template

TEMPLATE = Path(__file__).resolve().parents[2] / "manifests" / "slack_manifest.json"


def render_manifest(public_url: str) -> str:
    """The manifest as indented JSON with every URL under ``public_url``."""
    text = Template(TEMPLATE.read_text(encoding="utf-8")).substitute(public_url=public_url.rstrip("/"))
    return json.dumps(json.loads(text), indent=2, ensure_ascii=False)
