"""The initial schema: every model as of the foundation."""
from storage.models import MODELS


def apply(database):
    database.create_tables(MODELS, safe=True)
