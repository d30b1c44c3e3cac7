"""The Slack app: Bolt mounted in Ackbot's aiohttp application (routes in ``bot.slack.routes``),
OAuth install and personal link, incident card buttons and the ``/incident`` slash command."""
