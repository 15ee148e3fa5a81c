"""Hostile input to the staff API is a 4xx naming fields, never a 500 and never an echo of the input."""

import httpx
import pytest

from ignis.gateway.settings import GatewaySettings


def staff(settings: GatewaySettings) -> dict[str, str]:
    return {
        "Authorization": f"Bearer {settings.staff_token.get_secret_value()}",
        "Content-Type": "application/json",
    }


@pytest.mark.parametrize(
    ("method", "path", "body", "status"),
    [
        ("POST", "/staff/requests/abc/claim", b'{"by": "Anna M\\u00fcller \\ud800"}', 422),  # lone surrogate
        ("POST", "/staff/requests/abc/complete", b'{"by": "x", "note": "Befund \\ud800"}', 422),
        ("POST", "/staff/identification-locks/unlock", b'{"scope": "name", "key": "a\\u0000b"}', 422),
        ("POST", "/staff/identification-locks/unlock", b'{"scope": "patient", "key": "657"}', 422),
        ("GET", "/staff/appointments?date=9999-12-31", b"", 400),
        ("GET", "/staff/appointments?date=0001-01-01", b"", 400),
    ],
    ids=["claim-surrogate", "complete-surrogate", "unlock-nul", "unlock-scope", "far-future", "far-past"],
)
async def test_refused_with_field_names_only(
    gateway: httpx.AsyncClient,
    gateway_settings: GatewaySettings,
    method: str,
    path: str,
    body: bytes,
    status: int,
) -> None:
    response = await gateway.request(method, path, content=body or None, headers=staff(gateway_settings))
    assert response.status_code == status, response.text
    assert "Müller" not in response.text
    assert "Befund" not in response.text
    if status == 422:
        assert response.json()["code"] == "invalid_request"
