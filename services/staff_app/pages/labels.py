"""The German words the pages show for the services' codes: request kinds, SMS states and templates, call
outcomes, and the notifier's reasons (written for the operator in English)."""

from ignis.contracts.requests import RequestKind

KINDS = {
    RequestKind.rueckruf: "Rückruf",
    RequestKind.rezept: "Rezept",
    RequestKind.ueberweisung: "Überweisung",
    RequestKind.krankschreibung: "Krankschreibung",
    RequestKind.nachricht: "Nachricht",
}

MESSAGE_STATUS = {
    "pending": "geplant",
    "claimed": "in Arbeit",
    "sending": "wird gesendet",
    "sent": "gesendet",
    "failed": "fehlgeschlagen",
    "unknown": "unklar (keine Antwort)",
    "skipped": "nicht gesendet",
    "withdrawn": "zurückgezogen",
}
TEMPLATES = {
    "confirmation": "Terminbestätigung",
    "reschedule": "Terminverlegung",
    "cancellation": "Terminabsage",
    "reminder": "Terminerinnerung",
}
OUTCOMES = {"success": "erfolgreich", "failure": "nicht erfolgreich", "unknown": "unklar"}
# The notifier's reasons are written for the operator (English); the desk reads them in German. Matched by a
# part of the text; an unknown reason is shown as it is.
REASONS = (
    ("(402)", "sipgate-Guthaben aufgebraucht: Konto aufladen, dann erneut senden"),
    ("(401)", "sipgate lehnt die Zugangsdaten ab: Einstellungen prüfen"),
    ("(403)", "sipgate erlaubt diese SMS-Absenderkennung nicht: Web-SMS buchen, Einstellungen prüfen"),
    ("gave up after", "mehrmals vergeblich versucht"),
    ("no answer from sipgate", "keine Antwort von sipgate: vielleicht angekommen"),
    ("whether the SMS went out is unknown", "unklar, ob sie hinausging"),
    ("whether it sent is unknown", "unklar, ob sie hinausging"),
    ("the appointment has begun", "der Termin hatte schon begonnen"),
    ("quiet hours", "fiel in die Ruhezeit"),
    ("no SMS consent", "keine SMS-Einwilligung"),
    ("no mobile number", "keine Mobilnummer"),
    ("patient no longer exists", "Patient gelöscht"),
    ("cancelled", "Termin abgesagt"),
    ("moved", "Termin verlegt"),
)


def reason_in_german(reason: str | None) -> str:
    if not reason:
        return "–"
    return next((german for part, german in REASONS if part in reason), reason)
