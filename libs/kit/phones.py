"""Phone numbers in one form: E.164 (`+4915123456789`), whatever way a caller, a practice file or a
transcriber wrote them; German numbers without a country code are read as German."""

import phonenumbers


def to_e164(number: str, region: str = "DE") -> str | None:
    """`0151…`, `+49151…` and `0049151…` are one number; None if it is not a valid phone number."""
    try:
        parsed = phonenumbers.parse(number, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(parsed):
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def is_mobile(e164: str) -> bool:
    """Whether an SMS can reach this number: a mobile one (a fixed-line number cannot take an SMS)."""
    try:
        number = phonenumbers.parse(e164)
    except phonenumbers.NumberParseException:
        return False
    return phonenumbers.number_type(number) in (
        phonenumbers.PhoneNumberType.MOBILE,
        phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
    )
