"""On-call schedules: the schedules of the people file, the levels that page them, overrides made
from chat or the CLI, and whom a schedule gave when a level was paged."""
from storage.models import LevelSchedule, OnCallSchedule, PagedOnCall, ShiftOverride

SCHEDULE_TABLES = [OnCallSchedule, LevelSchedule, ShiftOverride, PagedOnCall]


def apply(database):
    database.create_tables(SCHEDULE_TABLES, safe=True)
