"""Settings of the scheduler service."""

from ignis.kit.settings import DataSettings


class SchedulerSettings(DataSettings):
    pass
