"""`ignis up --records fhir` without a FHIR server of the practice: a local trial on Medplum's in-memory FHIR
engine of the tests, said loudly, and gone with Ignis."""

from pathlib import Path

import httpx
import psutil
import pytest

from tests.e2e.conftest import ignis_env, ignis_up
from tests.e2e.test_ignis_up import REGISTER, tool

pytestmark = pytest.mark.e2e


def test_a_local_trial_runs_on_the_in_memory_engine(
    tmp_path: Path, nats_url: str, e2e_database_url: str
) -> None:
    env = ignis_env(tmp_path / "home", IGNIS_NATS_URL=nats_url, IGNIS_DATABASE_URL=e2e_database_url)
    with ignis_up(env, tmp_path / "ignis.log", "--records", "fhir") as running:
        engines = [
            p for p in psutil.Process(running.process.pid).children() if "server.mjs" in " ".join(p.cmdline())
        ]
        registered = tool(running, "register_patient", REGISTER)
        identified = tool(
            running,
            "identify_patient",
            {"conversation_id": "e2e-3", "last_name": REGISTER["last_name"], "birth_date": "09.08.2001"},
        )
        [url] = [
            line.split("(", 1)[1].split(")")[0] for line in running.output().splitlines() if "(http" in line
        ]
        on_the_engine = httpx.get(f"{url}/Patient", params={"birthdate": "2001-08-09"}, timeout=10).json()

    assert "IN-MEMORY FHIR SERVER" in running.output()
    assert "LOST when Ignis stops" in running.output()
    assert (registered["code"], identified["code"]) == ("registered", "identified")
    assert on_the_engine["entry"][0]["resource"]["birthDate"] == "2001-08-09"
    assert len(engines) == 1
    assert not engines[0].is_running()  # stopped with Ignis
