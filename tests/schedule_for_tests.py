"""A seconds-resolution schedule for the multi-process exactly-once test (`SCHEDULE=tests.schedule_for_tests`)."""

from powerworker.cron import ScheduleEntry, validate

TICKS_KEY = "test:ticks:"

SCHEDULE = validate(
    [
        ScheduleEntry("every_second", "* * * * * *", "Test::TickJob", "default", args=("every_second",)),
        ScheduleEntry(
            "every_two_seconds", "* * * * * */2", "Test::TickJob", "critical", args=("every_two_seconds",)
        ),
    ]
)
