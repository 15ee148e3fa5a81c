"""Settings of the scheduler service."""

from ignis.kit.settings import Settings


class SchedulerSettings(Settings):
    pass
