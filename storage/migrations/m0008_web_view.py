"""The web view: signed-in browser sessions, and people who may see every team (``admin``)."""
from playhouse.migrate import SchemaMigrator, migrate

from storage.models import User, WebSession


def apply(database):
    columns = {column.name for column in database.get_columns(User._meta.table_name)}
    if User.is_admin.column_name not in columns:
        migrator = SchemaMigrator.from_database(getattr(database, "obj", database))
        migrate(migrator.add_column(User._meta.table_name, User.is_admin.column_name, User.is_admin))
    database.create_tables([WebSession], safe=True)
