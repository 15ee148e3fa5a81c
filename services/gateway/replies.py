"""What the agent hears: every outcome code becomes one or two German sentences in the reply envelope.

Replies are LLM tokens and latency, so they stay small; error texts never repeat what the caller said.
"""

from typing import Any

from pydantic import BaseModel

from ignis.contracts.base import ErrorCode, ErrorReply

# Replies that carry data but are no success: the agent must react to them (ok=false).
NOT_OK = {"no_slots", "unknown_visit_type", "slot_taken", "change_requested", "not_offered"}

MESSAGES: dict[str, str] = {
    "identified": "Vielen Dank, ich habe Sie in unserer Patientenkartei gefunden.",
    "registered": "Vielen Dank, Sie sind jetzt als neuer Patient bei uns registriert.",
    "already_registered": "Sie sind bereits bei uns registriert, ich habe Ihre Daten gefunden.",
    "slots": "Ich habe folgende freie Termine gefunden. Bitte lesen Sie die Vorschläge vor.",
    "no_slots": "Im gewünschten Zeitraum ist leider kein Termin frei; der nächste mögliche Tag steht dabei.",
    "unknown_visit_type": "Diese Terminart kenne ich nicht. Bitte wählen Sie eine der genannten Terminarten.",
    "booked": "Der Termin ist verbindlich für Sie gebucht.",
    # With the practice's own reason in `explanation`, a sentence for the caller.
    "not_offered": "Diesen Termin kann ich Ihnen leider nicht anbieten.",
    "slot_taken": "Dieser Termin wurde gerade vergeben. Bitte bieten Sie eine der Alternativen an.",
    "appointments": "Das sind die anstehenden Termine des Patienten.",
    "cancelled": "Der Termin ist abgesagt.",
    "rescheduled": "Der Termin ist verlegt.",
    "change_requested": (
        "So kurzfristig ändert das Praxisteam den Termin selbst. Ich habe Ihren Wunsch notiert; das Team "
        "bestätigt ihn Ihnen. Bis dahin bleibt der Termin bestehen."
    ),
    "info": "Hier sind die gewünschten Informationen zur Praxis.",
    "waitlist_joined": (
        "Sie stehen auf der Warteliste. Wird ein passender Termin frei, halten wir ihn eine Weile für Sie "
        "und schicken Ihnen eine SMS, wenn Sie SMS wünschen."
    ),
    "join_waitlist:unavailable": (
        "Ich konnte gerade nicht bestätigen, ob Sie auf der Warteliste stehen. "
        "Bitte versuchen Sie es gleich noch einmal; doppelt eingetragen wird nichts."
    ),
    "request_created": "Ihr Anliegen ist für das Praxisteam notiert.",
    "create_request:not_verified": (
        "Für Rezepte, Überweisungen und Krankschreibungen muss ich Sie zuerst identifizieren. "
        "Bitte nennen Sie Ihren Nachnamen und Ihr Geburtsdatum."
    ),
    ErrorCode.invalid_date: "Das Datum habe ich nicht verstanden. Bitte nennen Sie Tag und Monat.",
    ErrorCode.invalid_slot: "Diesen Termin kann ich so nicht buchen. Bitte suchen Sie zuerst freie Termine.",
    # Never "please call us": the caller is calling the practice (`booking.late_changes: refuse`).
    ErrorCode.too_late: (
        "So kurzfristig kann der Termin leider nicht mehr abgesagt oder verlegt werden. "
        "Gern notiere ich eine Nachricht für das Praxisteam."
    ),
    ErrorCode.unknown_practitioner: "Diese Ärztin oder diesen Arzt gibt es in unserer Praxis nicht.",
    ErrorCode.not_found: "Dazu habe ich leider nichts gefunden.",
    # `not_found` of identify_patient: the caller was not found (other tools: an appointment).
    "identify_patient:not_found": (
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
    # The acting tools: asked again until the budget ran out, so the outcome is truly unknown.
    "book_appointment:unavailable": (
        "Ich konnte gerade nicht bestätigen, ob der Termin gebucht wurde. "
        "Ich frage gleich noch einmal nach Ihren Terminen, bevor ich einen neuen buche."
    ),
    "reschedule_appointment:unavailable": (
        "Ich konnte gerade nicht bestätigen, ob der Termin verlegt wurde. "
        "Ich prüfe gleich noch einmal Ihre Termine."
    ),
    "cancel_appointment:unavailable": (
        "Ich konnte gerade nicht bestätigen, ob der Termin abgesagt wurde. "
        "Ich prüfe gleich noch einmal Ihre Termine."
    ),
    "register_patient:unavailable": (
        "Ich konnte gerade nicht bestätigen, ob Ihre Anmeldung gespeichert wurde. "
        "Bitte versuchen Sie es gleich noch einmal; doppelt angelegt wird nichts."
    ),
    "create_request:unavailable": (
        "Ich konnte gerade nicht bestätigen, ob Ihr Anliegen notiert wurde. "
        "Bitte versuchen Sie es gleich noch einmal; doppelt notiert wird nichts."
    ),
    ErrorCode.internal: (
        "Da ist leider ein technischer Fehler aufgetreten. Das Praxisteam kann Sie zurückrufen."
    ),
}


def envelope(reply: BaseModel, tool: str = "") -> dict[str, Any]:
    """`{"ok", "code", "message", ...data}` for a reply or an `ErrorReply`."""
    if isinstance(reply, ErrorReply):
        return failure(reply.code, tool)
    code: str = getattr(reply, "kind")  # noqa: B009 - every reply has a `kind` literal
    data = reply.model_dump(mode="json", exclude={"kind"}, exclude_none=True)
    return {"ok": code not in NOT_OK, "code": code, "message": MESSAGES[code], **data}


def failure(code: ErrorCode, tool: str = "", **data: Any) -> dict[str, Any]:
    message = MESSAGES.get(f"{tool}:{code.value}") or MESSAGES[code]
    return {"ok": False, "code": code.value, "message": message, **data}
