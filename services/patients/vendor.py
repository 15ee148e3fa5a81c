"""The patients service's side of ElevenLabs: its client, and deleting conversations there.

A call record's conversation also lives at ElevenLabs (transcript, audio). When the record goes (a patient
erased, retention) the conversation is recorded for deletion in the same transaction, then deleted at
ElevenLabs best effort: what fails stays pending and the next round (the reconciliation job) tries again;
a deletion never holds up the local one.
"""

import contextlib
import logging
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass

import httpx
from elevenlabs import AsyncElevenLabs
from elevenlabs.core.api_error import ApiError
from elevenlabs.core.request_options import RequestOptions
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ignis.kit.clock import utcnow
from ignis.kit.settings import Settings
from ignis.patients.repository import PatientRepository

logger = logging.getLogger("ignis.patients.vendor")
ONCE: RequestOptions = {"max_retries": 0}  # a failure stays pending for the next round instead


@contextlib.asynccontextmanager
async def connect(settings: Settings) -> AsyncIterator[AsyncElevenLabs | None]:
    """The SDK's client, or None when no API key is configured (the vendor side is off)."""
    key = settings.elevenlabs_api_key.get_secret_value() if settings.elevenlabs_api_key else ""
    if not key:
        yield None
        return
    async with httpx.AsyncClient(timeout=30) as http:  # base_url None: the SDK's production environment
        yield AsyncElevenLabs(api_key=key, httpx_client=http, base_url=settings.elevenlabs_api_url)


@dataclass(frozen=True)
class Deleted:
    deleted: int
    pending: int

    def __str__(self) -> str:
        return f"{self.deleted} deleted, {self.pending} failed/pending"


async def delete_conversations(
    sessionmaker: async_sessionmaker[AsyncSession], settings: Settings, only: Sequence[str] | None = None
) -> Deleted | None:
    """Delete at ElevenLabs the conversations recorded for deletion (of `only`, else every pending one);
    None when ElevenLabs is not configured."""
    async with connect(settings) as client:
        if client is None:
            return None
        async with sessionmaker() as session, session.begin():
            pending = await PatientRepository(session).pending_vendor_deletions(only)
        deleted = 0
        for conversation_id in pending:
            try:
                await client.conversational_ai.conversations.delete(conversation_id, request_options=ONCE)
                done = True
            except ApiError as exc:
                done = exc.status_code == 404  # gone there already (ElevenLabs' own retention)
            except (httpx.HTTPError, OSError):
                done = False
            async with sessionmaker() as session, session.begin():
                await PatientRepository(session).vendor_deletion_done(conversation_id, done, utcnow())
            deleted += done
        result = Deleted(deleted, len(pending) - deleted)
        if pending:
            logger.info(
                "conversations deleted at ElevenLabs",
                extra={"deleted": result.deleted, "pending": result.pending},
            )
        return result
