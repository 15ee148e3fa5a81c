"""Factory of the scheduler service: `faststream run ignis.scheduler.main:create_app --factory`."""

import datetime as dt

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ignis.contracts import subjects
from ignis.kit.service import Service, create_service
from ignis.practice.config import load_practice
from ignis.scheduler import fhir_directory, handlers
from ignis.scheduler.calendar import Calendar
from ignis.scheduler.settings import SchedulerSettings


def create_app(
    settings: SchedulerSettings | None = None,
    sessionmaker: async_sessionmaker[AsyncSession] | None = None,
    outbox: bool = True,
) -> Service:
    """A practice file with an error stops the start here, naming the file, the key and the problem."""
    settings = settings or SchedulerSettings()
    calendar = Calendar(load_practice(settings.practice_file), spoken_style=settings.spoken_style)
    calendar.prepare(dt.date.today())
    app = create_service(
        "scheduler",
        settings,
        handlers.router,
        sessionmaker=sessionmaker,
        outbox=outbox,
        consumers={subjects.SCHEDULER_ERASURES_CONSUMER: subjects.EVENTS_STREAM},
        background=[lambda _: handlers.resolved_refs.sweep_every_keep()],
        # IGNIS_RECORDS=fhir: appointments on the practice's FHIR server; the practice file's practitioners
        # and visit types are found or created there at start-up.
        resources=(
            {"fhir_calendar": lambda: fhir_directory.open_calendar(settings, calendar.practice)}
            if settings.records == "fhir"
            else {}
        ),
    )
    app.context.set_global("calendar", calendar)
    return app
