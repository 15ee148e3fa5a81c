"""The one clock of every service: timezone-aware UTC, so no naive datetime reaches the database."""

import datetime as dt


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)
