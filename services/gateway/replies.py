"""What the agent hears: every outcome code becomes one or two German sentences in the reply envelope.

Replies are LLM tokens and latency, so they stay small; error texts never repeat what the caller said.
"""

from typing import Any

from pydantic import BaseModel

from ignis.contracts.base import ErrorCode, ErrorReply

MESSAGES: dict[str, str] = {
    "identified": "Vielen Dank, ich habe Sie in unserer Patientenkartei gefunden.",
    "registered": "Vielen Dank, Sie sind jetzt als neuer Patient bei uns registriert.",
    "already_registered": "Sie sind bereits bei uns registriert, ich habe Ihre Daten gefunden.",
    ErrorCode.not_found: (
        "Ich konnte Sie mit diesem Namen und Geburtsdatum leider nicht finden. "
        "Bitte buchstabieren Sie Ihren Nachnamen oder nennen Sie Ihr Geburtsdatum noch einmal."
    ),
    ErrorCode.ambiguous: "Dazu gibt es mehrere Einträge. Wie lautet bitte Ihr Vorname?",
    ErrorCode.invalid_birth_date: (
        "Das Geburtsdatum habe ich nicht verstanden. Bitte nennen Sie Tag, Monat und Jahr Ihrer Geburt."
    ),
    ErrorCode.too_many_attempts: (
        "Ich kann Sie leider nicht eindeutig zuordnen. "
        "Gern veranlasse ich einen Rückruf durch das Praxisteam."
    ),
    ErrorCode.already_registered: (
        "Zu diesen Angaben gibt es bereits mehrere Einträge. "
        "Das Praxisteam klärt das und meldet sich bei Ihnen."
    ),
    ErrorCode.invalid_phone: (
        "Die Telefonnummer scheint nicht gültig zu sein. Bitte nennen Sie sie noch einmal mit Vorwahl."
    ),
    ErrorCode.not_verified: (
        "Dafür muss ich Sie zuerst identifizieren. Bitte nennen Sie Ihren Nachnamen und Ihr Geburtsdatum."
    ),
    ErrorCode.invalid_request: (
        "Mir fehlen Angaben oder sie sind ungültig. Bitte fragen Sie noch einmal nach."
    ),
    ErrorCode.unavailable: (
        "Das Praxissystem antwortet gerade nicht. Bitte versuchen Sie es in ein paar Minuten noch einmal."
    ),
    ErrorCode.internal: (
        "Da ist leider ein technischer Fehler aufgetreten. Das Praxisteam kann Sie zurückrufen."
    ),
}


def envelope(reply: BaseModel) -> dict[str, Any]:
    """`{"ok", "code", "message", ...data}` for a success reply or an `ErrorReply`."""
    if isinstance(reply, ErrorReply):
        return failure(reply.code)
    code: str = getattr(reply, "kind")  # noqa: B009 - every success reply has a `kind` literal
    return {
        "ok": True,
        "code": code,
        "message": MESSAGES[code],
        **reply.model_dump(mode="json", exclude={"kind"}),
    }


def failure(code: ErrorCode, **data: Any) -> dict[str, Any]:
    return {"ok": False, "code": code.value, "message": MESSAGES[code], **data}
