"""The dead-letter stream for an operator: what failed every delivery attempt (which subject, why, when),
and a replay once the cause is fixed. Payloads are never shown: they are patient data (transcripts)."""

import datetime as dt
from dataclasses import dataclass

import nats
from nats.errors import TimeoutError as NatsTimeout
from nats.js.errors import NotFoundError

from ignis.contracts import subjects


@dataclass(frozen=True)
class DeadLetter:
    sequence: int
    subject: str  # where it was delivered from, and where a replay puts it back
    error: str
    failed_at: dt.datetime
    size: int


async def dead_letters(nats_url: str, limit: int = 1000) -> list[DeadLetter]:
    """The dead letters, oldest first."""
    connection = await nats.connect(nats_url)
    try:
        js = connection.jetstream()
        try:
            info = await js.stream_info(subjects.DEAD_LETTER_STREAM)
        except NotFoundError:
            return []
        found: list[DeadLetter] = []
        if not info.state.messages:  # an empty stream's first and last sequence are 0: nothing to read
            return found
        sequence = info.state.first_seq
        while sequence <= info.state.last_seq and len(found) < limit:
            try:
                message = await js.get_msg(subjects.DEAD_LETTER_STREAM, sequence)
            except NotFoundError:  # deleted (replayed) ones leave gaps
                sequence += 1
                continue
            headers = message.headers or {}
            found.append(
                DeadLetter(
                    sequence=sequence,
                    subject=headers.get("Ignis-Original-Subject", "?"),
                    error=headers.get("Ignis-Error", "?"),
                    failed_at=_time(message.headers),
                    size=len(message.data or b""),
                )
            )
            sequence += 1
        return found
    finally:
        await connection.close()


async def replay(nats_url: str, sequences: list[int]) -> int:
    """Publish these dead letters again to their original subjects (their streams and consumers take them
    as new deliveries; every consumer is idempotent), then remove them here. Returns how many."""
    connection = await nats.connect(nats_url)
    done = 0
    try:
        js = connection.jetstream()
        for sequence in sequences:
            message = await js.get_msg(subjects.DEAD_LETTER_STREAM, sequence)
            original = (message.headers or {}).get("Ignis-Original-Subject")
            if not original:
                continue
            try:
                await js.publish(original, message.data or b"", timeout=5)
            except NatsTimeout:
                break  # its stream does not answer: keep this one and the rest for later
            await js.delete_msg(subjects.DEAD_LETTER_STREAM, sequence)
            done += 1
    finally:
        await connection.close()
    return done


def _time(headers: dict[str, str] | None) -> dt.datetime:
    stamp = (headers or {}).get("Ignis-Failed-At")
    return dt.datetime.fromisoformat(stamp) if stamp else dt.datetime.min.replace(tzinfo=dt.UTC)
