"""The staff request queue: callbacks, prescriptions, referrals and the like."""

import datetime as dt
import uuid
from collections.abc import Sequence

from sqlalchemy import and_, or_, select, tuple_

from ignis.patients.models import Patient, Request
from ignis.patients.repository.base import RepositoryBase


class RequestRows(RepositoryBase):
    """Requests for staff, in working order."""

    async def request_by_key(self, key: str) -> Request | None:
        return await self.session.scalar(select(Request).where(Request.idempotency_key == key))

    async def add_request(self, request: Request) -> Request:
        self.session.add(request)
        await self.session.flush()
        return request

    async def request_for_update(self, request_id: uuid.UUID) -> Request | None:
        return await self.session.scalar(select(Request).where(Request.id == request_id).with_for_update())

    async def requests(
        self,
        status: str | None,
        kind: str | None,
        urgent: bool | None,
        limit: int,
        after: tuple[bool, dt.datetime, uuid.UUID] | None,
    ) -> Sequence[tuple[Request, Patient | None]]:
        """The queue in working order: urgent first, then oldest first; keyset `after` for the next page."""
        query = select(Request)
        if status is not None:
            query = query.where(Request.status == status)
        if kind is not None:
            query = query.where(Request.kind == kind)
        if urgent is not None:
            query = query.where(Request.urgent == urgent)
        if after is not None:
            was_urgent, created_at, request_id = after
            # Order is (urgent desc, created_at, id): "after" means less urgent, or same urgency and later.
            later = and_(
                Request.urgent.is_(was_urgent),
                tuple_(Request.created_at, Request.id) > tuple_(created_at, request_id),
            )
            query = query.where(or_(later, Request.urgent.is_(False)) if was_urgent else later)
        query = query.order_by(Request.urgent.desc(), Request.created_at, Request.id).limit(limit)
        requests = (await self.session.scalars(query)).all()
        patients = await self._patients(request.patient_id for request in requests)
        return [(r, patients.get(r.patient_id) if r.patient_id else None) for r in requests]
