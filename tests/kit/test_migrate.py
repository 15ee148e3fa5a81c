"""Migrations: applied once, recorded per schema, safe to run again and concurrently."""

import asyncio

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from ignis.cli.setup import migrate_all
from tests.conftest import drop_database, other_database


class TestMigrateAll:
    async def test_second_run_applies_nothing(self, engine: AsyncEngine, database_url: str) -> None:
        assert await migrate_all(database_url) == {
            "patients": [],
            "scheduler": [],
            "notifier": [],
            "staff_app": [],
        }

    async def test_concurrent_runs_do_not_collide(self, engine: AsyncEngine, database_url: str) -> None:
        results = await asyncio.gather(*(migrate_all(database_url) for _ in range(3)))
        assert all(
            result == {"patients": [], "scheduler": [], "notifier": [], "staff_app": []} for result in results
        )

    async def test_schema_and_version_recorded(self, engine: AsyncEngine) -> None:
        async with engine.connect() as conn:
            versions = (
                (await conn.execute(text("SELECT version FROM patients.schema_migration"))).scalars().all()
            )
            tables = (
                (
                    await conn.execute(
                        text(
                            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'patients'"
                        )
                    )
                )
                .scalars()
                .all()
            )
        assert versions[-3:] == ["0009_fhir_sync", "0010_registered_by_phone", "0011_identification"]
        assert {"patient", "verification", "identity_attempt", "schema_migration"} <= set(tables)


class TestFreshDatabase:
    async def test_creates_the_database_and_applies_everything_once(
        self, engine: AsyncEngine, database_url: str
    ) -> None:
        fresh = other_database(database_url, "ignis_fresh_migrate")
        try:
            assert await migrate_all(fresh) == {
                "patients": [
                    "0001_init",
                    "0002_call",
                    "0003_request",
                    "0004_identity_budget",
                    "0005_encrypt",
                    "0006_call_raw_event",
                    "0007_vendor_deletion",
                    "0008_fhir_patient",
                    "0009_fhir_sync",
                    "0010_registered_by_phone",
                    "0011_identification",
                ],
                "scheduler": [
                    "0001_init",
                    "0002_encrypt",
                    "0003_version",
                    "0004_late_change",
                    "0005_waitlist",
                ],
                "notifier": [
                    "0001_init",
                    "0002_encrypt",
                    "0003_version",
                    "0004_staff_alert",
                    "0005_waitlist_offer",
                    "0006_fhir",
                ],
                "staff_app": ["0001_init"],
            }
            assert await migrate_all(fresh) == {
                "patients": [],
                "scheduler": [],
                "notifier": [],
                "staff_app": [],
            }
        finally:
            await drop_database(engine, "ignis_fresh_migrate")
