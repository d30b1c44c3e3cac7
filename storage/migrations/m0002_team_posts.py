"""Team channel posts: the TeamPost outbox, and the Slack workspace and Teams channel of a team."""
from playhouse.migrate import SchemaMigrator, migrate

from storage.models import Team, TeamPost


def apply(database):
    columns = {column.name for column in database.get_columns(Team._meta.table_name)}
    migrator = SchemaMigrator.from_database(getattr(database, "obj", database))
    for field in (Team.slack_workspace, Team.teams_channel):
        if field.column_name not in columns:
            migrate(migrator.add_column(Team._meta.table_name, field.column_name, field))
    database.create_tables([TeamPost], safe=True)
