"""The intake inbox: signals accepted while triggers waited past their budget."""
from storage.models import IntakeSignal


def apply(database):
    database.create_tables([IntakeSignal], safe=True)
