"""On-call schedules: the schedules of the people file, the levels that page them, overrides made
from chat or the CLI, whom a schedule gave when a level was paged, and hand-offs announced, and calendar feed tokens."""
from storage.models import CalendarToken, HandoffNotice, LevelSchedule, OnCallSchedule, PagedOnCall, ShiftOverride

SCHEDULE_TABLES = [OnCallSchedule, LevelSchedule, ShiftOverride, PagedOnCall, HandoffNotice, CalendarToken]


def apply(database):
    database.create_tables(SCHEDULE_TABLES, safe=True)
