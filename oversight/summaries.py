"""Keep the statistics' summary rows current as cases move, and rebuild them from the cases.

Every filed case contributes to one ``CaseCell`` (its month, country pair, category and currency) and to
its merchant's share of that cell (``MerchantCell``), to the duration histograms and to its merchant's
row. ``contribution(case)`` says what it contributes now, as a pure function of the case's fields; the
lifecycle takes it before and after each move and ``apply`` writes the difference (decrements and
increments, by upsert) in the same transaction, so a reader always sees figures that match the committed
cases. A missed deadline counts in a ``BreachCell`` and the merchant's ``MerchantBreachCell`` alike. Rows
are written in one fixed order (``WRITE_ORDER``, then by key) so that concurrent moves wait for each other
instead of deadlocking; the sweep defers a batch's writes to its end (``deferred``) so that it keeps that
order across the batch too.

``rebuild()`` recomputes every row from the cases table by GROUP BY (``manage.py stats_rebuild``, after a
bulk load, after adding a summary table, or to check the running figures against the source).
"""

import contextlib
import dataclasses
import datetime as dt
import threading
from collections import Counter
from decimal import Decimal

from django.db import connection, transaction
from django.db.models import Count, DecimalField, F, Q, Sum
from django.db.models.fields.json import KT
from django.db.models.functions import Cast, TruncMonth
from django.db.models.lookups import Exact

from cases.models import OPEN_STATES, Case, ComplianceStatus, Deadline, DeadlineKind, Status
from cases.money import minor_units

from .models import (
    CELL_AMOUNTS,
    CELL_COUNTS,
    COMPLIANCE_CLASSES,
    COUNTED_STATUSES,
    MERCHANT_COUNTS,
    RESOLUTIONS,
    BreachCell,
    CaseCell,
    DurationCell,
    MerchantBreachCell,
    MerchantCell,
    MerchantResponseCell,
    MerchantStats,
)

#: Deadlines whose firing means someone who had to act did not: the merchant's answer, its final notice
#: in arbitration, carrying out the outcome, and the arbitrator's award. (The other clocks ending is the
#: procedure moving on: negotiation and mediation periods, objections, the consumer's confirmation.)
BREACH_KINDS = (DeadlineKind.MERCHANT_RESPONSE, DeadlineKind.FINAL_NOTICE, DeadlineKind.COMPLIANCE, DeadlineKind.AWARD)
#: Of those, the ones the merchant missed (its row's ``breaches``).
MERCHANT_BREACH_KINDS = (DeadlineKind.MERCHANT_RESPONSE, DeadlineKind.FINAL_NOTICE, DeadlineKind.COMPLIANCE)

CELL_KEY = ("month", "consumer_country", "merchant_country", "category", "currency")
BREACH_KEY = ("month", "consumer_country", "merchant_country", "category", "kind")


@dataclasses.dataclass(frozen=True)
class Contribution:
    cell: tuple
    counts: dict
    durations: tuple
    merchant_id: int
    merchant: dict
    response_hours: int | None


def month_of(moment: dt.datetime) -> dt.date:
    return moment.astimezone(dt.UTC).date().replace(day=1)


def compliance_class(outcome: dict | None) -> str:
    """``pending``, ``confirmed``, ``late``, ``non_compliant``, or "" when nothing is owed."""
    compliance = (outcome or {}).get("compliance")
    if not compliance:
        return ""
    if compliance == ComplianceStatus.CONFIRMED:
        return "late" if outcome.get("non_compliant_at") else "confirmed"
    if compliance == ComplianceStatus.NON_COMPLIANT:
        return "non_compliant"
    return "pending"


def to_minor(amount, currency: str) -> int:
    return int((Decimal(str(amount)) * 10 ** minor_units().get(currency, 2)).to_integral_value())


def _outcome_minor(case: Case) -> int:
    amount = (case.outcome or {}).get("amount")
    # Outcomes are always in the claim's currency (the services refuse others); a stray one is not added.
    if not amount or amount.get("currency") != case.claim_currency:
        return 0
    return to_minor(amount["amount"], case.claim_currency)


def contribution(case: Case) -> Contribution | None:
    """What ``case`` adds to the summaries as it stands (None for a draft)."""
    if case.status == Status.DRAFT or case.filed_at is None:
        return None
    month = month_of(case.filed_at)
    counts = {"cases": 1, f"st_{case.status}": 1, "claimed_minor": to_minor(case.claim_amount, case.claim_currency)}
    merchant = {"cases": 1}
    if case.status in OPEN_STATES:
        merchant["open"] = 1
    if case.status == Status.NON_COMPLIANT:
        merchant["non_compliant_now"] = 1
    if case.resolution:
        counts[f"res_{case.resolution}"] = merchant[f"res_{case.resolution}"] = 1
        if case.resolution in ("settled", "awarded"):
            counts[f"{case.resolution}_minor"] = _outcome_minor(case)
    kind = compliance_class(case.outcome)
    if kind:
        counts[f"comp_{kind}"] = merchant[f"comp_{kind}"] = 1
    if case.defaulted:
        counts["defaulted"] = merchant["defaulted"] = 1
    if case.responded_at is not None:
        counts["responded"] = merchant["responded"] = 1
    durations = []
    if case.response_hours is not None:
        durations.append((month, "response", "", case.response_hours))
    if case.resolution_days is not None:
        durations.append((month, "resolution", case.resolved_in, case.resolution_days))
    if case.close_days is not None:
        durations.append((month, "close", "", case.close_days))
    return Contribution(
        cell=(month, str(case.consumer_country), str(case.merchant_country), case.category, case.claim_currency),
        counts=counts,
        durations=tuple(durations),
        merchant_id=case.merchant_id,
        merchant=merchant,
        response_hours=case.response_hours,
    )


def _difference(before: dict, after: dict) -> dict:
    keys = set(before) | set(after)
    return {k: after.get(k, 0) - before.get(k, 0) for k in keys if after.get(k, 0) != before.get(k, 0)}


#: The order every transaction writes summary rows in (then by key): two transactions never wait for
#: each other in a cycle, whatever mix of moves, sweeps and firings they hold. The rows all merchants
#: share first, then one merchant's: its cells (beside the shared ones they mirror), then its own row and
#: histogram, which ``Pending.write`` reads back last to derive the rates.
WRITE_ORDER = {
    CaseCell: 0,
    DurationCell: 1,
    BreachCell: 2,
    MerchantCell: 3,
    MerchantBreachCell: 4,
    MerchantStats: 5,
    MerchantResponseCell: 6,
}
_MODEL_AT = {rank: model for model, rank in WRITE_ORDER.items()}
#: The counters the merchant's rates are derived from (a move touching none of them leaves the rates).
RATE_INPUTS = {"responded", "defaulted", "comp_confirmed", "comp_late", "comp_non_compliant"}


class Pending:
    """Summary deltas not yet written: merged per row, written in ``WRITE_ORDER`` and key order."""

    def __init__(self):
        self.rows: dict[tuple, Counter] = {}

    def add(self, model, key: dict, deltas: dict) -> None:
        row = self.rows.setdefault((WRITE_ORDER[model], tuple(key.items())), Counter())
        row.update(deltas)

    def merge(self, other: "Pending") -> None:
        for row, deltas in other.rows.items():
            self.rows.setdefault(row, Counter()).update(deltas)

    def write(self) -> None:
        derive = set()
        # Consecutive rows of one table changing the same counters go in one statement (a sweep's batch
        # writes a breach cell per case), still in order: PostgreSQL takes their locks row by row.
        runs: list[tuple[tuple, list]] = []
        for (rank, key), deltas in sorted(self.rows.items(), key=lambda item: item[0]):
            model = _MODEL_AT[rank]
            changed = {k: deltas[k] for k in sorted(deltas) if deltas[k]}
            if not changed:
                continue
            key = dict(key)
            shape = (rank, tuple(key), tuple(changed))
            if runs and runs[-1][0] == shape:
                runs[-1][1].append((key, changed))
            else:
                runs.append((shape, [(key, changed)]))
            if model is MerchantResponseCell or (model is MerchantStats and RATE_INPUTS & set(changed)):
                derive.add(key["merchant_id"])
        for (rank, _key_names, _names), rows in runs:
            for start in range(0, len(rows), 100):  # under SQLite's oldest parameter limit (999)
                _bump(_MODEL_AT[rank], rows[start : start + 100])
        if derive:
            _merchant_derive(sorted(derive))
        self.rows = {}


_local = threading.local()


@contextlib.contextmanager
def deferred():
    """Collect the summary writes of what runs inside and write them, merged and in ``WRITE_ORDER``, when
    the block ends well (nested: handed to the enclosing block; an exception discards them, as its
    savepoint's rollback discards the moves). The deadline sweep fires a batch of deadlines in one
    transaction this way, so it never holds one merchant's row while waiting for another cell."""
    outer = getattr(_local, "pending", None)
    pending = _local.pending = Pending()
    try:
        yield pending
    finally:
        _local.pending = outer
    if outer is not None:
        outer.merge(pending)
    else:
        pending.write()


def _submit(pending: Pending) -> None:
    current = getattr(_local, "pending", None)
    if current is not None:
        current.merge(pending)
    else:
        pending.write()


def apply(before: Contribution | None, after: Contribution | None) -> None:
    """Write what changed between two contributions of one case (call inside the case's transaction)."""
    if before == after:
        return
    pending = Pending()
    if before is not None:
        cell = dict(zip(CELL_KEY, before.cell, strict=True))
        removed = {k: -v for k, v in before.counts.items()}
        pending.add(CaseCell, cell, removed)
        pending.add(MerchantCell, {"merchant_id": before.merchant_id, **cell}, removed)
        for month, measure, stage, value in before.durations:
            pending.add(
                DurationCell, {"month": month, "measure": measure, "stage": stage, "value": value}, {"count": -1}
            )
        pending.add(MerchantStats, {"merchant_id": before.merchant_id}, {k: -v for k, v in before.merchant.items()})
        if before.response_hours is not None:
            key = {"merchant_id": before.merchant_id, "hours": before.response_hours}
            pending.add(MerchantResponseCell, key, {"count": -1})
    if after is not None:
        cell = dict(zip(CELL_KEY, after.cell, strict=True))
        pending.add(CaseCell, cell, after.counts)
        pending.add(MerchantCell, {"merchant_id": after.merchant_id, **cell}, after.counts)
        for month, measure, stage, value in after.durations:
            pending.add(
                DurationCell, {"month": month, "measure": measure, "stage": stage, "value": value}, {"count": 1}
            )
        pending.add(MerchantStats, {"merchant_id": after.merchant_id}, after.merchant)
        if after.response_hours is not None:
            pending.add(
                MerchantResponseCell, {"merchant_id": after.merchant_id, "hours": after.response_hours}, {"count": 1}
            )
    _submit(pending)


def breach_count(deadline: Deadline) -> None:
    """Count a missed deadline (the sweep calls this as it fires one, in the same transaction)."""
    if deadline.kind not in BREACH_KINDS:
        return
    case = deadline.case
    if case.filed_at is None:
        return
    pending = Pending()
    key = {
        "month": month_of(case.filed_at),
        "consumer_country": str(case.consumer_country),
        "merchant_country": str(case.merchant_country),
        "category": case.category,
        "kind": deadline.kind,
    }
    pending.add(BreachCell, key, {"count": 1})
    pending.add(MerchantBreachCell, {"merchant_id": case.merchant_id, **key}, {"count": 1})
    if deadline.kind in MERCHANT_BREACH_KINDS:
        pending.add(MerchantStats, {"merchant_id": case.merchant_id}, {"breaches": 1})
    _submit(pending)


def _bump(model, rows: list[tuple[dict, dict]]) -> None:
    """``INSERT ... VALUES (row), (row) ... ON CONFLICT (key) DO UPDATE SET c = c + excluded.c`` for rows
    of ``model`` with the same key and counter names, distinct keys (PostgreSQL and SQLite alike)."""
    key, deltas = rows[0]
    quote = connection.ops.quote_name
    table = quote(model._meta.db_table)
    columns = [model._meta.get_field(name).column for name in [*key, *deltas]]
    key_columns = columns[: len(key)]
    sets = ", ".join(f"{quote(c)} = {table}.{quote(c)} + excluded.{quote(c)}" for c in columns[len(key) :])
    conflict = f"DO UPDATE SET {sets}" if sets else "DO NOTHING"
    # Names come from the models' metadata, quoted; values are parameters.
    names = ", ".join(quote(c) for c in columns)
    values = ", ".join(["(" + ", ".join(["%s"] * len(columns)) + ")"] * len(rows))
    target = ", ".join(quote(c) for c in key_columns)
    sql = f"INSERT INTO {table} ({names}) VALUES {values} ON CONFLICT ({target}) {conflict}"  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(sql, [value for key, deltas in rows for value in (*key.values(), *deltas.values())])


def percentile(histogram, fraction: float) -> float | None:
    """The ``fraction`` percentile of the values a histogram ``[(value, count), ...]`` holds, interpolated
    between the two nearest ranks as PostgreSQL's ``percentile_cont`` does (so the median of an even
    count is the mean of the middle two)."""
    pairs = sorted((v, n) for v, n in histogram if n > 0)
    total = sum(n for _v, n in pairs)
    if total == 0:
        return None
    rank = fraction * (total - 1)
    low, high = int(rank), min(int(rank) + 1, total - 1)

    def at(index):
        seen = 0
        for value, n in pairs:
            seen += n
            if index < seen:
                return value
        return pairs[-1][0]

    low_value, high_value = at(low), at(high)
    return float(low_value + (high_value - low_value) * (rank - low))


def _merchant_derive(merchant_ids) -> None:
    """Recompute the merchants' rates and median response time from their counters and histogram."""
    histograms: dict[int, list] = {m: [] for m in merchant_ids}
    for merchant_id, hours, count in MerchantResponseCell.objects.filter(merchant_id__in=merchant_ids).values_list(
        "merchant_id", "hours", "count"
    ):
        histograms[merchant_id].append((hours, count))
    rows = MerchantStats.objects.filter(merchant_id__in=merchant_ids)
    for row in rows:
        row.response_rate = rate(row.responded, row.responded + row.defaulted)
        row.compliance_rate = rate(
            row.comp_confirmed + row.comp_late, row.comp_confirmed + row.comp_late + row.comp_non_compliant
        )
        row.median_response_hours = percentile(histograms[row.merchant_id], 0.5)
    MerchantStats.objects.bulk_update(rows, ["response_rate", "compliance_rate", "median_response_hours"])


def rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


# --- rebuilding from the cases ----------------------------------------------------------------------------


def outcome_amount():
    """The outcome's amount as a number, in SQL (PostgreSQL's jsonb and SQLite's JSON alike)."""
    return Cast(KT("outcome__amount__amount"), DecimalField(max_digits=19, decimal_places=4))


def case_measures() -> dict:
    """Each of the cell's counters as an aggregate over the cases table (the plain GROUP BY: ``rebuild``,
    the statistics for one merchant, and the benchmark's comparison). Amounts are decimal sums here, in
    the currency's units; ``to_minor`` converts them."""
    comp = {
        "pending": Q(
            outcome__compliance__in=[ComplianceStatus.DUE, ComplianceStatus.REPORTED, ComplianceStatus.DISPUTED]
        ),
        "confirmed": Q(outcome__compliance=ComplianceStatus.CONFIRMED, outcome__non_compliant_at__isnull=True),
        "late": Q(outcome__compliance=ComplianceStatus.CONFIRMED, outcome__non_compliant_at__isnull=False),
        "non_compliant": Q(outcome__compliance=ComplianceStatus.NON_COMPLIANT),
    }
    same_currency = Q(Exact(KT("outcome__amount__currency"), F("claim_currency")))
    measures = {"cases": Count("pk")}
    measures.update({f"st_{s}": Count("pk", filter=Q(status=s)) for s in COUNTED_STATUSES})
    measures.update({f"res_{r}": Count("pk", filter=Q(resolution=r)) for r in RESOLUTIONS})
    measures.update({f"comp_{c}": Count("pk", filter=comp[c]) for c in COMPLIANCE_CLASSES})
    measures["defaulted"] = Count("pk", filter=Q(defaulted=True))
    measures["responded"] = Count("pk", filter=Q(responded_at__isnull=False))
    measures["claimed_minor"] = Sum("claim_amount")
    measures["settled_minor"] = Sum(outcome_amount(), filter=Q(resolution="settled") & same_currency)
    measures["awarded_minor"] = Sum(outcome_amount(), filter=Q(resolution="awarded") & same_currency)
    return measures


def filed_cases():
    return Case.objects.exclude(status=Status.DRAFT).filter(filed_at__isnull=False)


def month_expression():
    return TruncMonth("filed_at", tzinfo=dt.UTC)


def rebuild() -> dict:
    """Recompute every summary row from the cases (one transaction; writers wait for it on PostgreSQL)."""
    tables = list(WRITE_ORDER)
    with transaction.atomic():
        if connection.vendor == "postgresql":
            names = ", ".join(connection.ops.quote_name(m._meta.db_table) for m in tables)
            with connection.cursor() as cursor:
                # Moves that already counted themselves commit first; later ones wait for this rebuild.
                cursor.execute(f"LOCK TABLE {names} IN SHARE ROW EXCLUSIVE MODE")
        for model in tables:
            model.objects.all().delete()
        cells, merchant_cells = _rebuild_cells()
        durations = _rebuild_durations()
        merchant_breaches = _rebuild_breaches()
        merchants = _rebuild_merchants(merchant_breaches)
    return {"cells": cells, "merchant_cells": merchant_cells, "durations": durations, "merchants": merchants}


def _sum_into(totals: dict, key: tuple, row: dict, names) -> None:
    total = totals.setdefault(key, dict.fromkeys(names, 0))
    for name in names:
        total[name] += row[name]


def _rebuild_cells() -> tuple[int, int]:
    """``MerchantCell`` by one GROUP BY over the cases, written as the rows come (there are many: a small
    merchant's cells hold a case or two each); ``CaseCell`` as their sums over the merchants, so one pass
    over the cases makes both. Returns how many of each."""
    counted = CELL_COUNTS + CELL_AMOUNTS
    totals: dict[tuple, dict] = {}
    batch: list[MerchantCell] = []
    written = 0
    grouped = (
        filed_cases()
        .annotate(month=month_expression(), currency=F("claim_currency"))
        .values("merchant_id", *CELL_KEY)
        .annotate(**case_measures())
        .order_by()
    )
    for row in grouped.iterator(chunk_size=5000):
        for name in CELL_AMOUNTS:
            row[name] = to_minor(row[name] or 0, row["currency"])
        row["month"] = as_date(row["month"])
        batch.append(MerchantCell(**row))
        _sum_into(totals, tuple(row[k] for k in CELL_KEY), row, counted)
        if len(batch) == 5000:
            MerchantCell.objects.bulk_create(batch)
            written += len(batch)
            batch = []
    MerchantCell.objects.bulk_create(batch)
    written += len(batch)
    cells = [CaseCell(**dict(zip(CELL_KEY, key, strict=True)), **total) for key, total in totals.items()]
    CaseCell.objects.bulk_create(cells, batch_size=5000)
    return len(cells), written


def _rebuild_durations() -> int:
    durations = []
    for measure, stage, field in (
        ("response", None, "response_hours"),
        ("resolution", "resolved_in", "resolution_days"),
        ("close", None, "close_days"),
    ):
        rows = (
            filed_cases()
            .filter(**{f"{field}__isnull": False})
            .annotate(month=month_expression())
            .values("month", *([stage] if stage else []), field)
            .annotate(n=Count("pk"))
            .order_by()
        )
        for row in rows.iterator(chunk_size=5000):
            durations.append(
                DurationCell(
                    month=as_date(row["month"]),
                    measure=measure,
                    stage=row[stage] if stage else "",
                    value=row[field],
                    count=row["n"],
                )
            )
    DurationCell.objects.bulk_create(durations, batch_size=5000)
    return len(durations)


def _rebuild_breaches() -> dict[int, int]:
    """``MerchantBreachCell`` from the fired deadlines, ``BreachCell`` as their sums over the merchants.
    Returns each merchant's own breaches (``MERCHANT_BREACH_KINDS``), for its row."""
    rows = (
        Deadline.objects.filter(status="fired", kind__in=BREACH_KINDS, case__filed_at__isnull=False)
        .annotate(
            merchant_id=F("case__merchant_id"),
            month=TruncMonth("case__filed_at", tzinfo=dt.UTC),
            consumer_country=F("case__consumer_country"),
            merchant_country=F("case__merchant_country"),
            category=F("case__category"),
        )
        .values("merchant_id", *BREACH_KEY)
        .annotate(count=Count("pk"))
        .order_by()
    )
    totals: dict[tuple, dict] = {}
    by_merchant: dict[int, int] = {}
    merchant_cells = []
    for row in rows:
        row["month"] = as_date(row["month"])
        merchant_cells.append(MerchantBreachCell(**row))
        _sum_into(totals, tuple(row[k] for k in BREACH_KEY), row, ["count"])
        if row["kind"] in MERCHANT_BREACH_KINDS:
            by_merchant[row["merchant_id"]] = by_merchant.get(row["merchant_id"], 0) + row["count"]
    MerchantBreachCell.objects.bulk_create(merchant_cells, batch_size=5000)
    BreachCell.objects.bulk_create(
        [BreachCell(**dict(zip(BREACH_KEY, key, strict=True)), **total) for key, total in totals.items()],
        batch_size=5000,
    )
    return by_merchant


def _rebuild_merchants(breaches: dict[int, int]) -> int:
    """Each merchant's row (with ``breaches``, its missed deadlines), its response-time histogram and the
    rates derived from them. Returns how many merchants."""
    merchant_measures = {
        "cases": Count("pk"),
        "open": Count("pk", filter=Q(status__in=OPEN_STATES)),
        "non_compliant_now": Count("pk", filter=Q(status=Status.NON_COMPLIANT)),
        **{
            name: measure
            for name, measure in case_measures().items()
            if name in MERCHANT_COUNTS and name not in ("cases",)
        },
    }
    stats = []
    for row in filed_cases().values("merchant_id").annotate(**merchant_measures).order_by().iterator(5000):
        row["breaches"] = breaches.get(row["merchant_id"], 0)
        stats.append(MerchantStats(**row))
    MerchantStats.objects.bulk_create(stats, batch_size=5000)
    responses = (
        filed_cases()
        .filter(response_hours__isnull=False)
        .values("merchant_id", "response_hours")
        .annotate(n=Count("pk"))
        .order_by()
    )
    MerchantResponseCell.objects.bulk_create(
        [
            MerchantResponseCell(merchant_id=r["merchant_id"], hours=r["response_hours"], count=r["n"])
            for r in responses
        ],
        batch_size=5000,
    )
    ids = [s.merchant_id for s in stats]
    for start in range(0, len(ids), 1000):
        _merchant_derive(ids[start : start + 1000])
    return len(stats)


def as_date(value) -> dt.date:
    """A date from what TruncMonth gives (a date on SQLite, a datetime on PostgreSQL)."""
    return value.date() if isinstance(value, dt.datetime) else value
