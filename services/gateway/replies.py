"""What the agent hears: every outcome code becomes one or two German sentences in the reply envelope.

Two audiences, two fields: `message` is said to the caller (the agent reads it out in its own words), `hint`
tells the agent what to do next and is never read out. Replies are LLM tokens and latency, so they stay
small; neither text ever repeats what the caller said.
"""

from typing import Any

from pydantic import BaseModel

from ignis.contracts.base import ErrorCode, ErrorReply

# Replies that carry data but are no success: the agent must react to them (ok=false).
NOT_OK = {"no_slots", "unknown_visit_type", "slot_taken", "change_requested", "not_offered"}

_CHANGED_MEANWHILE = (
    "Ihr Termin wurde gerade in der Praxis geändert, deshalb habe ich nichts daran verändert. "
    "Ich schaue mir Ihre Termine noch einmal an."
)
MESSAGES: dict[str, str] = {
    "identified": "Vielen Dank, ich habe Sie in unserer Patientenkartei gefunden.",
    "registered": "Vielen Dank, Sie sind jetzt als neuer Patient bei uns registriert.",
    "already_registered": "Sie sind bereits bei uns registriert, ich habe Ihre Daten gefunden.",
    "slots": "Ich habe folgende freie Termine gefunden.",
    "no_slots": "Im gewünschten Zeitraum ist leider kein Termin frei.",
    "unknown_visit_type": "Diese Terminart bieten wir so leider nicht an.",
    "booked": "Der Termin ist verbindlich für Sie gebucht.",
    # With the practice's own reason in `explanation`, a sentence for the caller.
    "not_offered": "Diesen Termin kann ich Ihnen leider nicht anbieten.",
    "slot_taken": "Dieser Termin wurde leider gerade vergeben.",
    "appointments": "Das sind Ihre anstehenden Termine.",
    "appointments:none": "Bei uns sind für Sie keine anstehenden Termine eingetragen.",
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
    ErrorCode.invalid_date: (
        "Das habe ich nicht genau verstanden. An welchem Tag hätten Sie gern einen Termin, "
        "zum Beispiel am dritten Dezember oder nächsten Dienstag?"
    ),
    ErrorCode.invalid_slot: "Diesen Termin kann ich so leider nicht buchen.",
    # Never "please call us": the caller is calling the practice (`booking.late_changes: refuse`).
    ErrorCode.too_late: (
        "So kurzfristig kann der Termin leider nicht mehr abgesagt oder verlegt werden. "
        "Gern notiere ich eine Nachricht für das Praxisteam."
    ),
    ErrorCode.unknown_practitioner: "Diese Ärztin oder diesen Arzt gibt es in unserer Praxis nicht.",
    # FHIR record mode: the practice changed the appointment on its own system since it was read; this
    # call changed nothing.
    "reschedule_appointment:conflict": _CHANGED_MEANWHILE,
    "cancel_appointment:conflict": _CHANGED_MEANWHILE,
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
    ErrorCode.invalid_request: "Da fehlt mir leider noch eine Angabe.",
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
        "Ich versuche es gleich noch einmal."
    ),
    "create_request:unavailable": (
        "Ich konnte gerade nicht bestätigen, ob Ihr Anliegen notiert wurde. "
        "Ich versuche es gleich noch einmal."
    ),
    ErrorCode.internal: (
        "Da ist leider ein technischer Fehler aufgetreten. Das Praxisteam kann Sie zurückrufen."
    ),
}


# What the agent should do next, where that is not obvious (German, informal like its prompt). Same keys as
# MESSAGES; a reply whose key has none carries no `hint`.
_CALLBACK = "biete einen Rückruf an (`create_request`, Art `rueckruf`)"
_IDENTIFY_FIRST = (
    "Prüfe die Identität mit `identify_patient` und rufe das Werkzeug dann mit der `patient_ref` erneut auf."
)
_STILL_WANTED = (
    "Rufe `list_appointments` auf, nenne den aktuellen Stand und frage, ob die Änderung noch gewünscht ist."
)
HINTS: dict[str, str] = {
    "slots": (
        "Lies höchstens drei Vorschläge so vor, wie sie in `spoken` stehen, und frage, welcher passt. "
        "Buche erst nach einer ausdrücklichen Wahl."
    ),
    "no_slots": (
        f"Steht `next_possible_spoken` dabei, nenne diesen Tag und frage, ob er passt; sonst {_CALLBACK}."
    ),
    "unknown_visit_type": (
        "Nenne die Terminarten aus `visit_types`, frage, welche passt, und rufe `find_slots` erneut auf."
    ),
    "booked": "Bestätige Tag, Uhrzeit und Ärztin oder Arzt so, wie sie in `appointment.spoken` stehen.",
    "rescheduled": "Bestätige den neuen Termin so, wie er in `appointment.spoken` steht.",
    "slot_taken": (
        "Biete eine der `alternatives` an (Feld `spoken`); ist die Liste leer, suche mit `find_slots` neu."
    ),
    "appointments": "Lies die Termine so vor, wie sie in `spoken` stehen.",
    "create_request:not_verified": _IDENTIFY_FIRST,
    ErrorCode.invalid_date: (
        "Frage nach dem Tag und rufe `find_slots` mit den Worten des Anrufers (Feld `when`) erneut auf."
    ),
    ErrorCode.invalid_slot: "Suche mit `find_slots` freie Termine und nimm nur eine `slot_id` daraus.",
    "identify_patient:not_found": (
        "Frage nach der Schreibweise oder dem Geburtsdatum und rufe `identify_patient` erneut auf; "
        "ist die Person neu, registriere sie mit `register_patient`."
    ),
    ErrorCode.ambiguous: "Rufe `identify_patient` mit dem Vornamen (`first_name`) erneut auf.",
    ErrorCode.too_many_attempts: f"Versuche keine weitere Prüfung; {_CALLBACK}.",
    ErrorCode.not_verified: _IDENTIFY_FIRST,
    ErrorCode.invalid_request: (
        "Die Felder in `fields` fehlen oder sind ungültig: frage danach und rufe das Werkzeug erneut auf."
    ),
    ErrorCode.unavailable: f"Klappt es auch beim zweiten Versuch nicht, {_CALLBACK}.",
    "book_appointment:unavailable": "Rufe `list_appointments` auf, bevor du noch einmal buchst.",
    "reschedule_appointment:unavailable": "Rufe `list_appointments` auf, bevor du noch einmal verlegst.",
    "cancel_appointment:unavailable": "Rufe `list_appointments` auf, bevor du noch einmal absagst.",
    "reschedule_appointment:conflict": _STILL_WANTED,
    "cancel_appointment:conflict": _STILL_WANTED,
    "register_patient:unavailable": "Rufe `register_patient` mit denselben Angaben erneut auf; doppelt "
    "angelegt wird nichts.",
    "create_request:unavailable": "Rufe `create_request` mit denselben Angaben erneut auf; doppelt notiert "
    "wird nichts.",
    ErrorCode.internal: f"Entschuldige dich und {_CALLBACK}.",
    "unauthorized": (
        "Das Werkzeug ist bei Ignis falsch angemeldet (Tool-Secret). Entschuldige dich und bitte die Person, "
        "es später noch einmal zu versuchen."
    ),
}
MESSAGES["unauthorized"] = MESSAGES[ErrorCode.internal]


def envelope(reply: BaseModel, tool: str = "") -> dict[str, Any]:
    """`{"ok", "code", "message", "hint"?, ...data}` for a reply or an `ErrorReply`."""
    if isinstance(reply, ErrorReply):
        return failure(reply.code, tool)
    code: str = getattr(reply, "kind")  # noqa: B009 - every reply has a `kind` literal
    data = reply.model_dump(mode="json", exclude={"kind"}, exclude_none=True)
    key = f"{code}:none" if code == "appointments" and not data["appointments"] else code
    return {"ok": code not in NOT_OK, "code": code, **_texts(key), **data}


def failure(code: ErrorCode | str, tool: str = "", **data: Any) -> dict[str, Any]:
    name = code if isinstance(code, str) else code.value
    key = f"{tool}:{name}" if f"{tool}:{name}" in MESSAGES else code
    return {"ok": False, "code": name, **_texts(key), **data}


def _texts(key: str) -> dict[str, str]:
    """`message` for the caller and, if there is one, `hint` for the agent."""
    hint = HINTS.get(key)
    return {"message": MESSAGES[key]} | ({"hint": hint} if hint else {})
