"""Database set-up shared by `ignis up`, `ignis migrate` and `ignis seed`: each service's own schema."""

import importlib
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ignis.kit.clock import utcnow
from ignis.kit.crypto import reencrypt
from ignis.kit.db import create_engine, make_sessionmaker
from ignis.kit.migrate import ensure_database, migrate, read_migrations
from ignis.patients import registration
from ignis.patients.repository import PatientRepository
from ignis.practice.config import load_practice

T = TypeVar("T")

# Services that own a schema; each ships `migrations/*.sql` in its package.
SCHEMA_OWNERS = ("patients", "scheduler", "notifier", "staff_app")


async def migrate_all(url: str) -> dict[str, list[str]]:
    await ensure_database(url)
    applied: dict[str, list[str]] = {}
    for service in SCHEMA_OWNERS:
        directory = Path(importlib.import_module(f"ignis.{service}").__file__ or "").parent / "migrations"
        if directory.is_dir():
            applied[service] = await migrate(url, service, read_migrations(directory))
    return applied


async def seed_all(url: str, practice_file: Path | None) -> dict[str, int]:
    """Seed the demo data of the practice file into empty schemas."""
    practice = load_practice(practice_file)
    engine = create_engine(url, pool_size=1)
    try:
        async with make_sessionmaker(engine)() as session, session.begin():
            added = await registration.seed(PatientRepository(session), practice, utcnow())
    finally:
        await engine.dispose()
    return {"patients": added}


async def reencrypt_all(url: str) -> dict[str, dict[str, int]]:
    """Rewrite every encrypted column of every schema with the first data key (in one transaction each)."""
    engine = create_engine(url, pool_size=1)
    rewritten = {}
    try:
        for service in SCHEMA_OWNERS:
            models = importlib.import_module(f"ignis.{service}.models")
            async with make_sessionmaker(engine)() as session, session.begin():
                rewritten[service] = await reencrypt(session, models.Base.metadata)
    finally:
        await engine.dispose()
    return rewritten


async def in_patients_schema(url: str, work: Callable[[PatientRepository], Awaitable[T]]) -> T:
    """Run one unit of work of the patients service from the command line."""
    engine = create_engine(url, pool_size=1)
    try:
        async with make_sessionmaker(engine)() as session, session.begin():
            return await work(PatientRepository(session))
    finally:
        await engine.dispose()


async def with_sessionmaker(url: str, work: Callable[[async_sessionmaker[AsyncSession]], Awaitable[T]]) -> T:
    """Run work that needs several transactions (e.g. one per call stored) from the command line."""
    engine = create_engine(url, pool_size=1)
    try:
        return await work(make_sessionmaker(engine))
    finally:
        await engine.dispose()
