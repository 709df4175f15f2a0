"""The hash-chained case event log: canonical form, appending, and the verifier.

Chain rule (also implemented, with the standard library alone, by the offline verifier of the export
bundle, so keep the two in step):

    payload_hash = SHA-256(canonical(payload))
    hash         = SHA-256(prev_hash + canonical({"case", "seq", "type", "actor", "actor_role", "at",
                                                 "payload_hash"}))

``canonical`` is JSON with sorted keys, no spaces, UTF-8; ``at`` is ISO 8601 UTC with microseconds and
``Z``; the first event's ``prev_hash`` is 64 zeros. The chain covers ``payload_hash``, not the payload,
so a payload can be erased on a data-protection request and the chain still verifies.
"""

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from decimal import Decimal

from django.db import connection
from django.utils import timezone

from odr.bulk import insert_many

from .models import Case, CaseEvent

GENESIS = "0" * 64
SYSTEM = "system"
EVENT_FIELDS = ("case", "seq", "type", "actor", "actor_role", "at", "payload", "payload_hash", "prev_hash", "hash")


def _default(value):
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dt.datetime):
        return format_time(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def canonical(value) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_default).encode()


def normalise(payload):
    """The payload as it will read back from the JSON column (Decimals and dates as strings)."""
    return json.loads(canonical(payload))


def format_time(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def iso_utc(value: dt.datetime | None) -> str | None:
    """An aware time as ISO 8601 in UTC with ``Z`` (``None`` stays ``None``): the API's time format."""
    return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z") if value else None


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def chain_hash(*, prev_hash, case_reference, seq, type, actor, actor_role, at, payload_hash) -> str:
    body = {
        "case": case_reference,
        "seq": seq,
        "type": type,
        "actor": actor,
        "actor_role": actor_role,
        "at": at,
        "payload_hash": payload_hash,
    }
    return sha256(prev_hash.encode() + canonical(body))


def _link(*, case: Case, seq: int, prev_hash: str, type: str, actor, payload: dict | None) -> CaseEvent:
    """The event ``seq`` of ``case``'s chain after ``prev_hash``, hashed, not yet saved."""
    payload = normalise(payload or {})
    # Stored at microsecond precision, so the time hashed is the time read back.
    at = timezone.now().replace(tzinfo=dt.UTC)
    actor_id = actor.pk if actor is not None else None
    actor_role = actor.role if actor is not None else SYSTEM
    payload_hash = sha256(canonical(payload))
    return CaseEvent(
        case=case,
        seq=seq,
        type=type,
        actor_id=actor_id,
        actor_role=actor_role,
        at=at,
        payload=payload,
        payload_hash=payload_hash,
        prev_hash=prev_hash,
        hash=chain_hash(
            prev_hash=prev_hash,
            case_reference=case.reference,
            seq=seq,
            type=type,
            actor=actor_id,
            actor_role=actor_role,
            at=format_time(at),
            payload_hash=payload_hash,
        ),
    )


def event_append(*, case: Case, type: str, actor=None, payload: dict | None = None) -> CaseEvent:
    """Append one event to ``case``'s chain.

    Needs an open transaction in which ``case`` was fetched with ``select_for_update``: that lock keeps
    sequence numbers and the chain consistent when two writers append at once.
    """
    last = CaseEvent.objects.filter(case=case).order_by("-seq").values("seq", "hash").first()
    seq = last["seq"] + 1 if last else 1
    prev_hash = last["hash"] if last else GENESIS
    event = _link(case=case, seq=seq, prev_hash=prev_hash, type=type, actor=actor, payload=payload)
    event.save(force_insert=True)
    # Move the case's head with the chain (in memory too, so a later save of ``case`` keeps it).
    case.event_count, case.event_head = seq, event.hash
    Case.objects.filter(pk=case.pk).update(event_count=seq, event_head=event.hash)
    # The outbox: notifications and their deliveries in this same transaction (design 4).
    from notifications.services import notify_case_event

    notify_case_event(case=case, event=event)
    return event


def event_append_many(items, *, cases: dict | None = None) -> list[CaseEvent]:
    """Append events to several cases at once: ``items`` are ``(case_id, type, payload)`` for the system's
    events or ``(case_id, type, payload, actor)``, and a case's events chain in the order given. At most one
    read of the cases, one INSERT that moves the heads too (on PostgreSQL; an UPDATE a case elsewhere), and
    the notifications in bulk (the deadline sweep's batches, a chat batch's messages). Needs every case
    locked (``select_for_update``) in this transaction:
    each chain goes on from its case's head (``event_count``, ``event_head``), which every append moves
    with it under that lock. ``cases`` (``{id: case}``) are those locked rows, their heads read with them,
    when the caller has them and its events notify no one (otherwise they are read again, with the people
    the notifications need).
    """
    from notifications.services import notify_case_events

    if not items:
        return []
    ids = {item[0] for item in items}
    if cases is None:
        cases = Case.objects.select_related("consumer", "mediator", "arbitrator").in_bulk(ids)
    heads = {case_id: (cases[case_id].event_count, cases[case_id].event_head or GENESIS) for case_id in ids}
    events = []
    for case_id, type, payload, *actor in items:
        seq, prev_hash = heads[case_id]
        event = _link(
            case=cases[case_id], seq=seq + 1, prev_hash=prev_hash, type=type, actor=actor[0] if actor else None,
            payload=payload,
        )  # fmt: skip
        heads[case_id] = (event.seq, event.hash)
        events.append(event)
    moved = {case_id: heads[case_id] for case_id in ids}
    if connection.vendor == "postgresql":  # the heads move in the insert's statement
        insert_many(events, EVENT_FIELDS, along=_heads_update(moved))
    else:
        insert_many(events, EVENT_FIELDS)
        _move_heads(moved)
    for case_id in ids:
        cases[case_id].event_count, cases[case_id].event_head = heads[case_id]
    notify_case_events([(event.case, event) for event in events])
    return events


def _move_heads(heads: dict) -> None:
    """Set ``event_count`` and ``event_head`` of several cases, an UPDATE per case (on PostgreSQL,
    ``_heads_update`` goes with the events' insert instead)."""
    for case_id, (count, digest) in heads.items():
        Case.objects.filter(pk=case_id).update(event_count=count, event_head=digest)


def _heads_update(heads: dict) -> tuple[str, list]:
    """PostgreSQL: one UPDATE that sets ``event_count`` and ``event_head`` of several cases."""
    table = connection.ops.quote_name(Case._meta.db_table)
    sql = (
        f"UPDATE {table} AS c SET event_count = v.n, event_head = v.h "  # noqa: S608 (names from the model)
        "FROM unnest(%s::uuid[], %s::integer[], %s::varchar[]) AS v(id, n, h) WHERE c.id = v.id"
    )
    return sql, [list(heads), [count for count, _digest in heads.values()], [h for _count, h in heads.values()]]


@dataclass(frozen=True)
class ChainReport:
    ok: bool
    count: int
    bad_seq: int | None = None
    problem: str = ""


def chain_verify(case: Case) -> ChainReport:
    """Recompute the chain of ``case`` from its stored events; name the first event that does not hold."""
    prev_hash = GENESIS
    expected_seq = 1
    count = 0
    for event in CaseEvent.objects.filter(case=case).order_by("seq").iterator():
        count += 1
        if event.seq != expected_seq:
            return ChainReport(False, count, event.seq, f"sequence gap: expected {expected_seq}, found {event.seq}")
        if event.prev_hash != prev_hash:
            return ChainReport(False, count, event.seq, "prev_hash does not match the previous event's hash")
        if event.payload is not None and sha256(canonical(event.payload)) != event.payload_hash:
            return ChainReport(False, count, event.seq, "payload does not match payload_hash")
        recomputed = chain_hash(
            prev_hash=prev_hash,
            case_reference=case.reference,
            seq=event.seq,
            type=event.type,
            actor=event.actor_id,
            actor_role=event.actor_role,
            at=format_time(event.at),
            payload_hash=event.payload_hash,
        )
        if recomputed != event.hash:
            return ChainReport(False, count, event.seq, "hash does not match the event's content")
        prev_hash = event.hash
        expected_seq += 1
    head = Case.objects.filter(pk=case.pk).values("event_count", "event_head").first()
    if head and (head["event_count"] != count or head["event_head"] != (prev_hash if count else "")):
        missing = head["event_count"] if head["event_count"] > count else None
        return ChainReport(
            False,
            count,
            missing,
            f"the case records {head['event_count']} events ending in {head['event_head'][:12]}…; the log has {count}",
        )
    return ChainReport(True, count)
