"""Reconciliation: no transcript is lost, even when the post-call webhook was down for a day.

ElevenLabs sends each transcript once (retries only for 5xx/429/timeouts, and not at all for a 401 after
a secret mismatch), and disables a webhook that keeps failing. So this lists the agent's conversations
started since a moment (`GET /v1/convai/conversations`), fetches each finished one that has no call
record (`GET /v1/convai/conversations/{id}`) and stores it as the post-call webhook would have carried it,
through the one idempotent path, `calls.store_call`. A conversation whose record was erased or purged is
never fetched back (its deletion is recorded). It runs every `reconcile_every_minutes` in the patients
service, and on demand as `ignis reconcile-calls --since`.
"""

import asyncio
import datetime as dt
import json
import logging
from dataclasses import dataclass

from elevenlabs import AsyncElevenLabs, GetConversationResponseModel
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ignis.kit.clock import utcnow
from ignis.kit.settings import stored_secret
from ignis.patients import calls, vendor
from ignis.patients.repository import PatientRepository
from ignis.patients.settings import PatientsSettings

logger = logging.getLogger("ignis.patients.reconcile")
# Still going on or being analysed: fetched by a later round, once its transcript is final.
UNFINISHED = frozenset({"initiated", "in-progress", "processing"})
AGENT_ID = "elevenlabs_agent_id"  # IGNIS_HOME: the agent `ignis provision` made


@dataclass(frozen=True)
class Reconciled:
    listed: int  # finished conversations started since then
    missing: int  # of those, without a call record
    stored: int  # of those, stored now
    unfinished: int  # started, not finished yet

    def __str__(self) -> str:
        return f"{self.listed} conversations, {self.missing} without a call record, {self.stored} stored" + (
            f"; {self.unfinished} not finished yet" if self.unfinished else ""
        )


def as_post_call_event(conversation: GetConversationResponseModel, now: dt.datetime) -> bytes:
    """The conversation in the shape the post-call webhook carries (its `data` is the same model)."""
    return json.dumps(
        {
            "type": "post_call_transcription",
            "event_timestamp": int(now.timestamp()),
            "data": conversation.model_dump(mode="json", by_alias=True, exclude_none=True),
        }
    ).encode()


async def _finished_since(
    client: AsyncElevenLabs, agent_id: str | None, since: dt.datetime
) -> tuple[list[str], int]:
    finished: list[str] = []
    unfinished, cursor = 0, None
    while True:
        page = await client.conversational_ai.conversations.list(
            agent_id=agent_id, call_start_after_unix=int(since.timestamp()), cursor=cursor, page_size=100
        )
        for summary in page.conversations:
            if summary.status in UNFINISHED:
                unfinished += 1
            else:
                finished.append(summary.conversation_id)
        cursor = page.next_cursor
        if not page.has_more or not cursor:
            return finished, unfinished


async def reconcile(
    sessionmaker: async_sessionmaker[AsyncSession], settings: PatientsSettings, since: dt.datetime
) -> Reconciled | None:
    """Store every finished conversation since `since` that has no call record; None when ElevenLabs is not
    configured."""
    async with vendor.connect(settings) as client:
        if client is None:
            return None
        agent_id = settings.elevenlabs_agent_id or stored_secret(settings.home, AGENT_ID)
        finished, unfinished = await _finished_since(client, agent_id, since)
        async with sessionmaker() as session, session.begin():
            missing = await PatientRepository(session).conversations_without_call(finished)
        stored = 0
        for conversation_id in missing:
            conversation = await client.conversational_ai.conversations.get(conversation_id)
            now = utcnow()
            async with sessionmaker() as session, session.begin():
                repo = PatientRepository(session)
                stored += await calls.store_call(repo, settings, as_post_call_event(conversation, now), now)
    result = Reconciled(len(finished), len(missing), stored, unfinished)
    if missing:
        logger.warning(  # a webhook was lost: worth an operator's look (ignis doctor)
            "conversations without a call record fetched from ElevenLabs",
            extra={"missing": result.missing, "stored": result.stored},
        )
    return result


async def reconcile_forever(
    sessionmaker: async_sessionmaker[AsyncSession], settings: PatientsSettings
) -> None:
    """Background job of the patients service: reconcile the last `reconcile_lookback_hours`, and retry the
    deletions at ElevenLabs still pending, every `reconcile_every_minutes`. Off without an API key."""
    if not settings.elevenlabs_api_key:
        logger.info("reconciliation with ElevenLabs off: IGNIS_ELEVENLABS_API_KEY is not set")
        return
    while True:
        since = utcnow() - dt.timedelta(hours=settings.reconcile_lookback_hours)
        try:
            await reconcile(sessionmaker, settings, since)
            await vendor.delete_conversations(sessionmaker, settings)
        except Exception:  # ElevenLabs or the database may be away; the next round tries again
            logger.warning("reconciliation with ElevenLabs failed", exc_info=True)
        await asyncio.sleep(settings.reconcile_every_minutes * 60)
