"""Broker factory: every request gets a reply, and a handler's failure is logged without patient data."""

import asyncio
import datetime as dt
import logging
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import replace
from typing import Any, TypeVar

import nats
import sqlalchemy.exc
from faststream import BaseMiddleware, ExceptionMiddleware
from faststream.middlewares import AckPolicy
from faststream.nats import JStream, NatsBroker, NatsMessage, NatsRouter, PullSub
from faststream.nats.opentelemetry import NatsTelemetryMiddleware
from faststream.nats.prometheus import NatsPrometheusMiddleware
from nats.aio.subscription import Subscription
from nats.errors import Error as NatsError
from nats.js import JetStreamContext
from nats.js.api import ConsumerConfig, StreamConfig
from nats.js.errors import BadRequestError, NotFoundError
from prometheus_client import REGISTRY
from pydantic import BaseModel, TypeAdapter, ValidationError

from ignis.contracts import subjects
from ignis.contracts.base import ErrorCode, ErrorReply, Ping, Pong
from ignis.kit.clock import utcnow
from ignis.kit.context import Message
from ignis.kit.crypto import DataKeyError
from ignis.kit.errors import ServiceError, Unavailable
from ignis.kit.logging import REQUEST_ID, redacted_traceback
from ignis.kit.settings import Settings
from ignis.kit.tracing import tracer_provider

logger = logging.getLogger("ignis.bus")
T = TypeVar("T")

# How long JetStream remembers a Nats-Msg-Id to drop a second copy: covers a relay restart and
# ElevenLabs' webhook retries (up to ~40 minutes); beyond it consumers dedupe by id themselves.
DUPLICATE_WINDOW = dt.timedelta(hours=1)

# Messages one subscriber may hold at once (FastStream's default of one would make every caller queue
# behind the slowest database round trip). What a whole service handles at once is `IGNIS_CONCURRENCY`
# (`concurrency_limit`), which also sizes its database pool.
HANDLER_CONCURRENCY = 16

# A failed JetStream delivery is negatively acknowledged with these delays, then every 10 minutes; after
# MAX_DELIVERIES (about 3 hours: a database outage of that length) `settle` moves it to the dead-letter
# stream. A delivery that is neither acknowledged nor refused (its process died) comes back after
# ACK_WAIT_SECONDS, long enough that no delivery still being handled is sent a second time. (A consumer's
# own `backoff` would replace its ack_wait with the first delay, so it is not used.)
REDELIVERY_BACKOFF_SECONDS = [5.0, 30.0, 120.0, 600.0]
MAX_DELIVERIES = 20
ACK_WAIT_SECONDS = 60.0


Handler = Callable[..., Awaitable[Any]]


def responder(router: NatsRouter, service: str) -> Callable[[str], Callable[[Handler], Any]]:
    """The decorator of a service's request-reply handlers: `@responds(subject)` subscribes one in the
    service's queue group (replicas share the requests) with `HANDLER_CONCURRENCY` workers."""
    queue = subjects.queue(service)

    def responds(subject: str) -> Callable[[Handler], Any]:
        return router.subscriber(subject, queue=queue, max_workers=HANDLER_CONCURRENCY)

    return responds


def durable_subscriber(
    router: NatsRouter, subject: str, *, stream: str, durable: str, batch_size: int = 1
) -> Callable[[Callable[..., Awaitable[None]]], Any]:
    """Subscribe a handler as a durable pull consumer of `stream` with manual acknowledgement: the handler
    settles each message with `settle`, so none is lost while the service is down and none loops forever.
    """
    return router.subscriber(
        subject,
        # Declared by `ensure_stream` (create_service's `consumers`) before this binds, with the replicas.
        stream=JStream(stream, subjects=[subjects.stream_subjects(stream)], declare=False),
        durable=durable,
        pull_sub=PullSub(batch_size=batch_size, timeout=5.0),
        ack_policy=AckPolicy.MANUAL,
        config=ConsumerConfig(ack_wait=ACK_WAIT_SECONDS, max_deliver=MAX_DELIVERIES),
    )


def error_middleware() -> ExceptionMiddleware:
    """Turn every exception into a published `ErrorReply`.

    Without a publishing handler a requester waits for its timeout when a handler raises. The handlers are
    async: FastStream runs sync ones in a worker thread.
    """
    middleware = ExceptionMiddleware()

    @middleware.add_handler(ServiceError, publish=True)
    async def _service_error(exc: ServiceError) -> ErrorReply:
        return ErrorReply(code=exc.code, message=exc.message)

    @middleware.add_handler(ValidationError, publish=True)
    async def _invalid(exc: ValidationError, message: Message) -> ErrorReply:
        # Field names only: pydantic's own text would quote the offending (patient) values.
        fields = sorted({".".join(str(part) for part in err["loc"]) for err in exc.errors()})
        logger.warning("invalid message", extra={"fields": fields})
        if _from_stream(message):
            raise exc  # a reply would acknowledge it: leave it to the consumer's ack policy
        return ErrorReply(code=ErrorCode.invalid_request, message="invalid fields: " + ", ".join(fields))

    @middleware.add_handler(Exception, publish=True)
    async def _internal(exc: Exception, message: Message) -> ErrorReply:
        logger.error("handler failed", extra={"error": redacted_traceback(exc)})
        if _from_stream(message):
            raise exc  # let the consumer's ack policy redeliver it; a reply would acknowledge it
        return ErrorReply(code=ErrorCode.internal, message="internal error")

    return middleware


async def ask(
    broker: NatsBroker, command: BaseModel, subject: str, reply: TypeAdapter[T], within_seconds: float
) -> T:
    """Request-reply, typed: the parsed reply (an `ErrorReply` included).

    Raises `Unavailable` when no reply came within `within_seconds`, and a plain `ServiceError` (code
    internal) when the reply cannot be read, i.e. the two sides disagree on the contract.
    """
    try:
        message = await broker.request(
            command, subject, timeout=within_seconds, correlation_id=REQUEST_ID.get() or None
        )
    except (TimeoutError, NatsError, ConnectionError) as exc:
        raise Unavailable(f"no reply on {subject} ({type(exc).__name__})") from None
    try:
        return reply.validate_json(message.body)
    except ValidationError:
        raise ServiceError(f"unreadable reply on {subject}") from None


def _from_stream(message: NatsMessage) -> bool:
    """A JetStream delivery, whose reply subject is its acknowledgement, not a waiting requester."""
    return (message.raw_message.reply or "").startswith("$JS.ACK.")


class RequestIdMiddleware(BaseMiddleware):
    """The request id of a message (its correlation id, which `ask` sets to the HTTP request's) for every
    log line written while handling it."""

    async def consume_scope(self, call_next: Callable[[Any], Awaitable[Any]], msg: Any) -> Any:
        token = REQUEST_ID.set(msg.correlation_id or None)
        try:
            return await call_next(msg)
        finally:
            REQUEST_ID.reset(token)


def concurrency_limit(limit: int) -> type[BaseMiddleware]:
    """At most `limit` messages handled at once across all of a service's subscribers, so that handlers
    never wait for a database connection (the pool holds `limit` plus the background jobs' own, kit.db);
    readiness pings are never held back."""
    semaphore = asyncio.Semaphore(limit)

    class ConcurrencyLimit(BaseMiddleware):
        async def consume_scope(self, call_next: Callable[[Any], Awaitable[Any]], msg: Any) -> Any:
            subject = msg.raw_message.subject
            # Only a service's own subjects: a reply to a request its handler made (an inbox) must never
            # wait for a slot that handler holds, and readiness pings are never held back.
            if not subject.startswith("ignis.") or subject.endswith(".ping"):
                return await call_next(msg)
            async with semaphore:
                return await call_next(msg)

    return ConcurrencyLimit


def make_broker(nats_url: str, service: str, concurrency: int | None = None) -> NatsBroker:
    """A broker for `service` that answers `ignis.<service>.ping` (readiness) out of the box; a service
    that handles messages passes its `concurrency` (`IGNIS_CONCURRENCY`)."""
    # Per subscriber: messages received and published, processing time, exceptions (on /metrics).
    middlewares: list[Any] = [
        *([concurrency_limit(concurrency)] if concurrency else []),
        RequestIdMiddleware,
        error_middleware(),
        NatsPrometheusMiddleware(registry=REGISTRY, app_name=service),
    ]
    if (provider := tracer_provider(service)) is not None:  # trace context in and out of message headers
        middlewares.append(NatsTelemetryMiddleware(tracer_provider=provider))
    broker = NatsBroker(
        nats_url,
        name=f"ignis-{service}",
        middlewares=middlewares,
        logger=logging.getLogger(f"ignis.{service}.bus"),
        # Per-message access lines only at DEBUG: at INFO they would cost latency on every tool call.
        log_level=logging.DEBUG,
        # Keep retrying a NATS server that is down or restarting; the supervisor does not need to.
        max_reconnect_attempts=-1,
        reconnect_time_wait=1,
    )
    broker.include_router(_ping_router(service))
    return broker


def _ping_router(service: str) -> NatsRouter:
    router = NatsRouter()

    @router.subscriber(subjects.ping(service), queue=subjects.queue(service))
    async def ping(_: Ping) -> Pong:
        return Pong(service=service)

    return router


async def drain_requests(broker: NatsBroker, within_seconds: float = 10.0) -> None:
    """Stop taking requests without dropping any: first the server stops routing to this replica
    (its queue-group peers get the next ones), then every request already here is answered.

    FastStream's own stop marks its subscribers stopped before unsubscribing, so a request that arrives in
    between is dropped and its caller waits for a timeout; during a rolling update that is a lost tool call.
    JetStream consumers are left to FastStream: what they do not acknowledge is redelivered.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within_seconds

    async def drain(subscriber: Any) -> None:
        subscription = getattr(subscriber, "subscription", None)
        if not isinstance(subscription, Subscription):  # a JetStream consumer, or not subscribed
            return
        try:
            drained = subscription.drain()  # type: ignore[no-untyped-call]  # nats-py leaves it unannotated
            await asyncio.wait_for(drained, max(0.1, deadline - loop.time()))
        except Exception:  # never in the way of the shutdown itself: FastStream's stop follows
            logger.warning("draining a subscription failed", exc_info=True)
            return
        subscriber.subscription = None  # drained: FastStream must not unsubscribe it again
        while _busy(subscriber) and loop.time() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.01)

    await asyncio.gather(*(drain(subscriber) for subscriber in broker.subscribers))


def _busy(subscriber: object) -> bool:
    """Whether a concurrent subscriber still holds a request: queued for its workers or being answered."""
    limiter, queue = getattr(subscriber, "limiter", None), getattr(subscriber, "receive_stream", None)
    if limiter is None or queue is None:
        return False  # a plain subscriber: draining its subscription awaited its handler
    return bool(
        queue.statistics().current_buffer_used or limiter.value < getattr(subscriber, "max_workers", 0)
    )


async def ensure_stream(js: JetStreamContext, name: str, settings: Settings) -> None:
    """The one place a stream is declared: every process that uses one calls this before it does (consumers
    do not declare theirs), so all agree on its configuration: `stream_replicas` (3 on a 3-node NATS
    cluster, so a node's loss loses no event) and a `max_age` (`Settings.stream_max_age`), since every
    stream can hold patient data and none may keep it longer than the call records."""
    config = StreamConfig(
        name=name,
        subjects=[subjects.stream_subjects(name)],
        duplicate_window=min(DUPLICATE_WINDOW, settings.stream_max_age(name)).total_seconds(),
        num_replicas=settings.stream_replicas,
        max_age=settings.stream_max_age(name).total_seconds(),
    )
    try:
        await js.add_stream(config)
    except BadRequestError:  # exists with another configuration: bring it to ours
        await js.update_stream(config)


async def ensure_streams(settings: Settings, names: Iterable[str]) -> None:
    """Create (or align) JetStream streams before a service's consumers bind to them."""
    connection = await nats.connect(settings.nats)
    try:
        for name in sorted(set(names)):
            await ensure_stream(connection.jetstream(), name, settings)
    finally:
        await connection.close()


async def align_consumers(nats_url: str, consumers: dict[str, str]) -> None:
    """Bring existing durable consumers (durable → stream) to today's delivery settings: a consumer keeps
    the configuration it was created with, so one made with a `backoff` would keep redelivering messages
    still being handled after 5 s."""
    connection = await nats.connect(nats_url)
    js = connection.jetstream()
    try:
        for durable, stream in consumers.items():
            try:
                info = await js.consumer_info(stream, durable)
            except NotFoundError:
                continue  # created by its subscriber, as configured there
            if info.config.ack_wait != ACK_WAIT_SECONDS or info.config.backoff:
                await js.add_consumer(stream, replace(info.config, ack_wait=ACK_WAIT_SECONDS, backoff=None))
                logger.info("consumer delivery settings updated", extra={"consumer": durable})
    finally:
        await connection.close()


async def settle(
    message: NatsMessage,
    broker: NatsBroker,
    work: Callable[[], Awaitable[object]],
    max_deliveries: int = MAX_DELIVERIES,
    backoff: Sequence[float] = REDELIVERY_BACKOFF_SECONDS,
    remove: bool = False,
) -> None:
    """Run `work` for a JetStream delivery and settle it: acknowledge on success; on failure refuse it for
    redelivery after the attempt's `backoff` delay, and after `max_deliveries` failed attempts move it to
    the dead-letter stream (raw, with the reason) so it neither blocks nor loops forever and an operator
    can replay it.

    `remove`: the stream has one consumer and what `work` did keeps the content elsewhere (a record in the
    database, or the dead letter), so once settled the message is deleted from its stream rather than kept
    there until its max_age.
    """
    try:
        await work()
    except Exception as exc:
        attempt = message.raw_message.metadata.num_delivered
        subject = message.raw_message.subject
        if attempt < max_deliveries and not deterministic(exc):
            delay = backoff[min(attempt, len(backoff)) - 1]
            logger.warning(
                "delivery failed; it will come again",
                extra={
                    "subject": subject,
                    "attempt": attempt,
                    "retry_in_s": delay,
                    "error": redacted_traceback(exc),
                },
            )
            await message.raw_message.nak(delay=delay)
            return
        await broker.publish(
            message.body,
            subjects.dead_letter(subject),
            headers={
                "Ignis-Original-Subject": subject,
                "Ignis-Error": type(exc).__name__,
                "Ignis-Failed-At": utcnow().isoformat(),
            },
            stream=subjects.DEAD_LETTER_STREAM,
        )
        logger.error("delivery dead-lettered", extra={"subject": subject, "attempt": attempt})
    if remove:
        await _delete(broker, message)
    await message.ack()


# Failures the same message meets every time (it does not read, a value Postgres refuses): redelivering
# cannot help, so it goes to the dead letters at once, where an operator sees it. Anything else (the
# database or NATS away, a timeout) is retried.
DETERMINISTIC: tuple[type[BaseException], ...] = (
    ValidationError,
    ValueError,  # UnicodeError and json's errors too
    TypeError,
    LookupError,
    ArithmeticError,
    sqlalchemy.exc.DataError,
    sqlalchemy.exc.IntegrityError,
)


def deterministic(exc: BaseException) -> bool:
    # A data key that does not fit is the configuration's fault: once it is fixed, a redelivery succeeds.
    return isinstance(exc, DETERMINISTIC) and not isinstance(exc, DataKeyError)


async def _delete(broker: NatsBroker, message: NatsMessage) -> None:
    """Delete a delivered message from its stream; a failure only leaves it to the stream's max_age."""
    metadata = message.raw_message.metadata
    try:
        await broker.connection.jetstream().delete_msg(metadata.stream, metadata.sequence.stream)
    except Exception as exc:
        logger.warning(
            "delivered message not deleted from its stream; it expires with the stream's max_age",
            extra={"stream": metadata.stream, "error": type(exc).__name__},
        )
