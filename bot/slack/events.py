"""Losing access: ``app_uninstalled`` deactivates the workspace's installations (and Slack pages to
its people); ``tokens_revoked`` deactivates the bot or forgets the user tokens it names.

Bolt has built-in listeners for these; these do the same through the installation store, but as
tracked work, so shutdown waits for them instead of cutting them off mid-write.
"""
from __future__ import annotations

from slack_sdk.oauth.installation_store.async_installation_store import AsyncInstallationStore

from bot.slack.surface import SlackSurface


def register(bolt, surface: SlackSurface, store: AsyncInstallationStore) -> None:
    async def on_app_uninstalled(context):
        surface.in_flight.start(store.async_delete_all(enterprise_id=context.enterprise_id, team_id=context.team_id))

    async def on_tokens_revoked(event, context):
        surface.in_flight.start(forget_revoked(store, event.get("tokens") or {}, context.enterprise_id, context.team_id))

    bolt.event("app_uninstalled")(on_app_uninstalled)
    bolt.event("tokens_revoked")(on_tokens_revoked)


async def forget_revoked(store: AsyncInstallationStore, tokens: dict, enterprise_id: str | None, team_id: str | None) -> None:
    for user_id in tokens.get("oauth") or ():
        await store.async_delete_installation(enterprise_id=enterprise_id, team_id=team_id, user_id=user_id)
    if tokens.get("bot"):
        await store.async_delete_bot(enterprise_id=enterprise_id, team_id=team_id)
