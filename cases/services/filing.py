"""Filing a complaint: a draft or a filed case, with its reference and an optional Idempotency-Key."""

import datetime as dt

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import MerchantOrganisation
from odr.errors import Forbidden, IdempotencyKeyReused, ValidationFailed
from oversight import summaries

from .. import policies
from ..deadlines import deadline_sync
from ..events import canonical, event_append, sha256
from ..models import Case, IdempotencyKey, ReferenceCounter
from ..money import Money


def reference_allocate(*, year: int | None = None) -> str:
    """The next ``ODR-<year>-<6 digits>`` reference, in a transaction of its own.

    Kept out of the filing transaction so that concurrent filings hold the counter's row lock only for
    this one statement; a filing that then fails leaves a gap, never a duplicate.
    """
    year = year or timezone.now().year
    quote = connection.ops.quote_name
    table, last, year_ = (quote(name) for name in (ReferenceCounter._meta.db_table, "last", "year"))
    for _attempt in range(3):
        if connection.features.can_return_columns_from_insert:  # PostgreSQL, SQLite 3.35+: UPDATE ... RETURNING
            # One statement (its own transaction in autocommit): the row is locked only while it runs.
            with connection.cursor() as cursor:
                cursor.execute(f"UPDATE {table} SET {last} = {last} + 1 WHERE {year_} = %s RETURNING {last}", [year])  # noqa: S608
                row = cursor.fetchone()
            if row is not None:
                return f"ODR-{year}-{row[0]:06d}"
        else:
            with transaction.atomic():
                if ReferenceCounter.objects.filter(year=year).update(last=F("last") + 1):
                    return f"ODR-{year}-{ReferenceCounter.objects.get(year=year).last:06d}"
        try:
            with transaction.atomic():
                ReferenceCounter.objects.create(year=year, last=1)
                return f"ODR-{year}-{1:06d}"
        except IntegrityError:
            continue  # another filing created the year's row first; increment it instead
    raise RuntimeError("could not allocate a case reference")


def _complaint_payload(case: Case) -> dict:
    return {
        "reference": case.reference,
        "consumer": case.consumer_id,
        "merchant": case.merchant_id,
        "category": case.category,
        "remedy": case.remedy,
        "description": case.description,
        "language": case.language,
        "order": {
            "reference": case.order_reference,
            "date": case.order_date,
            "platform": case.order_platform,
            "product": case.order_product,
            "price": Money(case.order_price_amount, case.order_price_currency).as_dict(),
        },
        "claim": Money(case.claim_amount, case.claim_currency).as_dict(),
        "jurisdiction_facts": case.jurisdiction_facts,
    }


def _replay(consumer, idempotency_key, request_hash) -> Case | None:
    if not idempotency_key:
        return None
    row = IdempotencyKey.objects.filter(user=consumer, key=idempotency_key).select_related("case").first()
    if row is None:
        return None
    if row.created_at < timezone.now() - dt.timedelta(hours=settings.ODR_IDEMPOTENCY_TTL_HOURS):
        row.delete()  # an expired key may be used afresh
        return None
    if row.request_hash != request_hash:
        raise IdempotencyKeyReused()
    return row.case


def case_file(
    *,
    consumer,
    merchant_id: int,
    order: dict,
    category: str,
    description: str,
    remedy: str,
    claim: Money,
    language: str,
    submit: bool,
    idempotency_key: str | None = None,
    request_body=None,
    jurisdiction_facts: dict | None = None,
) -> tuple[Case, bool]:
    """File a complaint (``submit=True``) or keep it as a draft. Returns ``(case, created)``.

    ``order`` holds ``reference``, ``date``, ``platform``, ``product`` and ``price`` (Money). With an
    ``idempotency_key``, the same key and body return the case filed the first time (``created`` False);
    the same key with another body is refused. The case, its events and the key are one transaction.
    """
    if not policies.can_file(consumer):
        raise Forbidden(_("Only consumers can file complaints."))
    request_hash = sha256(canonical(request_body if request_body is not None else {}))
    existing = _replay(consumer, idempotency_key, request_hash)
    if existing is not None:
        return existing, False
    merchant = MerchantOrganisation.objects.filter(pk=merchant_id).first()
    if merchant is None:
        raise ValidationFailed(fields={"merchant": [_("There is no merchant with this id.")]})
    if order["date"] > timezone.now().date() + dt.timedelta(days=1):
        raise ValidationFailed(fields={"order.date": [_("The order date cannot be in the future.")]})

    reference = reference_allocate()
    try:
        # The summary rows last, just before the commit: concurrent filings bump the same rows (one month,
        # pair and category), each locked until its transaction ends (``summaries.deferred``).
        with transaction.atomic(), summaries.deferred():
            now = timezone.now()
            case = Case(
                reference=reference,
                consumer=consumer,
                merchant=merchant,
                consumer_country=consumer.country,
                merchant_country=merchant.country,
                category=category,
                remedy=remedy,
                description=description,
                language=language,
                order_reference=order["reference"],
                order_date=order["date"],
                order_platform=order.get("platform", ""),
                order_product=order["product"],
                order_price_amount=order["price"].amount,
                order_price_currency=order["price"].currency,
                claim_amount=claim.amount,
                claim_currency=claim.currency,
                jurisdiction_facts=jurisdiction_facts or {},
                created_at=now,
            )
            case.save(force_insert=True)
            event_append(case=case, type="created", actor=consumer, payload=_complaint_payload(case))
            if submit:
                case.submit(at=now)
                case.save()
                summaries.apply(None, summaries.contribution(case))
                deadline_sync(case, previous_status="draft", actor=consumer, now=now)
                event_append(case=case, type="submit", actor=consumer, payload={"from": "draft", "to": case.status})
            if idempotency_key:
                IdempotencyKey.objects.create(user=consumer, key=idempotency_key, request_hash=request_hash, case=case)
    except IntegrityError:
        # A concurrent request with the same Idempotency-Key committed first: answer with its case.
        existing = _replay(consumer, idempotency_key, request_hash)
        if existing is None:
            raise
        return existing, False
    return case, True
