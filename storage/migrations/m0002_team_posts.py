"""Team channel posts: the TeamPost outbox and the Slack workspace a team's channel is in."""
from playhouse.migrate import SchemaMigrator, migrate

from storage.models import Team, TeamPost


def apply(database):
    columns = {column.name for column in database.get_columns(Team._meta.table_name)}
    if "slack_workspace" not in columns:
        migrator = SchemaMigrator.from_database(getattr(database, "obj", database))
        migrate(migrator.add_column(Team._meta.table_name, "slack_workspace", Team.slack_workspace))
    database.create_tables([TeamPost], safe=True)
