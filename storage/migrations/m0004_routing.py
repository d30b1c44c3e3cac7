"""Routing: the people file's rules and default team, intake keys bound to a team and service,
and the alerts of a group an incident has seen (by fingerprint)."""
from playhouse.migrate import SchemaMigrator, migrate

from storage.models import ApiKey, IncidentAlert, RoutingRuleRow, Team


def apply(database):
    migrator = SchemaMigrator.from_database(getattr(database, "obj", database))
    for model, fields in ((Team, (Team.default_route,)), (ApiKey, (ApiKey.team, ApiKey.service))):
        columns = {column.name for column in database.get_columns(model._meta.table_name)}
        for field in fields:
            if field.column_name not in columns:
                migrate(migrator.add_column(model._meta.table_name, field.column_name, field))
    database.create_tables([RoutingRuleRow, IncidentAlert], safe=True)
