"""Typed model of the practice YAML; a config error names the file, the key and what is wrong."""

import datetime as dt
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ignis.contracts.patients import Insurance, Salutation

DEMO_PRACTICE = Path(__file__).with_name("demo.yaml")


class ConfigModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Address(ConfigModel):
    street: str
    postal_code: str
    city: str


class SeedPatient(ConfigModel):
    """A fictitious patient loaded into an empty database so the demo can be tried at once."""

    first_name: str
    last_name: str
    birth_date: dt.date
    phone: str | None = None
    insurance: Insurance = Insurance.gesetzlich
    sms_consent: bool = False
    salutation: Salutation | None = None


class Practice(ConfigModel):
    name: str
    address: Address
    phone: str
    bundesland: str = Field(min_length=2, max_length=2, description="ISO 3166-2:DE subdivision, e.g. BE")
    timezone: str = "Europe/Berlin"
    demo_patients: list[SeedPatient] = []


class PracticeConfigError(ValueError):
    pass


def load_practice(path: Path | None = None) -> Practice:
    path = path or DEMO_PRACTICE
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise PracticeConfigError(f"{path}: cannot read practice file ({exc.strerror})") from None
    except yaml.YAMLError as exc:
        raise PracticeConfigError(f"{path}: not valid YAML ({getattr(exc, 'problem', exc)})") from None
    try:
        return Practice.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '<root>'}: {err['msg']}" for err in exc.errors()
        )
        raise PracticeConfigError(f"{path}: {problems}") from None
