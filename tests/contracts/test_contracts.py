"""Contracts: strict bus messages, tolerant but private tool bodies, well-formed subject names."""

import datetime as dt
import re

import pytest
from pydantic import ValidationError

from ignis.contracts import subjects
from ignis.contracts.base import ErrorCode
from ignis.contracts.patients import IdentifyPatient
from ignis.contracts.tools import IdentifyPatientBody, RegisterPatientBody


class TestBusMessages:
    def test_unknown_fields_are_refused(self) -> None:
        with pytest.raises(ValidationError):
            IdentifyPatient.model_validate(
                {"conversation_id": "c", "last_name": "X", "birth_date": "2000-01-01", "surprise": 1}
            )

    def test_patient_data_stays_out_of_repr_and_errors(self) -> None:
        command = IdentifyPatient(conversation_id="c", last_name="Müller", birth_date=dt.date(1980, 3, 12))
        assert "Müller" not in repr(command)
        assert "1980" not in repr(command)
        with pytest.raises(ValidationError) as info:
            IdentifyPatient.model_validate(
                {"conversation_id": "c", "last_name": "Müller", "birth_date": "Müller"}
            )
        assert "Müller" not in str(info.value)


class TestToolBodies:
    def test_system_values_are_bound_to_dynamic_variables_not_the_llm(self) -> None:
        properties = RegisterPatientBody.model_json_schema()["properties"]
        assert properties["conversation_id"]["dynamic_variable"] == "system__conversation_id"
        assert properties["caller_id"]["dynamic_variable"] == "system__caller_id"
        assert "description" not in properties["conversation_id"]
        assert all("description" in properties[name] for name in ("first_name", "last_name", "birth_date"))

    def test_extra_keys_from_the_platform_are_ignored(self) -> None:
        body = IdentifyPatientBody.model_validate(
            {"conversation_id": "c", "last_name": "M", "birth_date": "1.1.2000", "agent_id": "x"}
        )
        assert body.last_name == "M"


class TestNames:
    def test_subjects_are_lowercase_dot_separated_tokens(self) -> None:
        constants = [n for n in dir(subjects) if n.isupper() and n != "SERVICES"]
        names = [
            getattr(subjects, n) for n in constants if not n.endswith(("_STREAM", "_CONSUMER", "_SUBJECTS"))
        ]
        names += [subjects.ping(service) for service in subjects.SERVICES]
        names += [subjects.elevenlabs_webhook("post_call_transcription")]
        assert len(names) > 10
        assert all(re.fullmatch(r"ignis(\.[a-z0-9_]+)+", name) for name in names), names
        wildcards = [getattr(subjects, n) for n in constants if n.endswith("_SUBJECTS")]
        assert all(re.fullmatch(r"ignis(\.[a-z0-9_]+)+\.>", name) for name in wildcards)

    def test_error_codes_are_snake_case(self) -> None:
        assert all(re.fullmatch(r"[a-z]+(_[a-z]+)*", code.value) for code in ErrorCode)
