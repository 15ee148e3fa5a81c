"""Plain-SQL migrations per service schema, applied in file-name order and recorded in the schema.

Each service ships `migrations/NNNN_name.sql`; a file is applied once, inside one transaction, under an
advisory lock so that processes starting together do not race.
"""

from pathlib import Path

import asyncpg
from sqlalchemy.engine import make_url


def _dsn(url: str, database: str | None = None) -> str:
    parsed = make_url(url).set(drivername="postgresql")
    if database is not None:
        parsed = parsed.set(database=database)
    return parsed.render_as_string(hide_password=False)


async def ensure_database(url: str) -> None:
    """Create the database named in `url` if the server does not have it yet."""
    name = make_url(url).database
    conn = await asyncpg.connect(_dsn(url, "postgres"))
    try:
        if not await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
            await conn.execute(f'CREATE DATABASE "{name}"')
    except asyncpg.DuplicateDatabaseError:
        pass  # created concurrently by another process
    finally:
        await conn.close()


def read_migrations(directory: Path) -> list[tuple[str, str]]:
    """`(version, sql)` of every `*.sql` file in `directory`, in file-name order."""
    return [(file.stem, file.read_text(encoding="utf-8")) for file in sorted(directory.glob("*.sql"))]


async def migrate(url: str, schema: str, migrations: list[tuple[str, str]]) -> list[str]:
    """Apply the pending migrations of one schema; returns the versions applied now."""
    conn = await asyncpg.connect(_dsn(url))
    applied_now: list[str] = []
    try:
        async with conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", f"ignis.migrate.{schema}")
            await conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
            await conn.execute(
                f'CREATE TABLE IF NOT EXISTS "{schema}".schema_migration '
                "(version text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
            )
            rows = await conn.fetch(f'SELECT version FROM "{schema}".schema_migration')
            done = {row["version"] for row in rows}
            for version, sql in migrations:
                if version in done:
                    continue
                await conn.execute(f'SET LOCAL search_path TO "{schema}"')
                await conn.execute(sql)
                await conn.execute(f'INSERT INTO "{schema}".schema_migration (version) VALUES ($1)', version)
                applied_now.append(version)
    finally:
        await conn.close()
    return applied_now
