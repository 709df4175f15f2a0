"""The operator's statistics: the overview of the cases and the merchant table, read from the summaries.

The overview reads ``CaseCell`` (counts, rates, amounts), ``BreachCell`` and ``DurationCell`` (exact
medians and 90th percentiles from the histograms): a few small GROUP BYs over tens of thousands of rows at
most, however many cases there are. One merchant's overview reads its own cells instead (``MerchantCell``,
``MerchantBreachCell``). Durations under a country, category or merchant filter leave the summaries for
the cases table (the histograms are by month only), read from its covering indexes alone on PostgreSQL.
``source="cases"`` forces the cases table for everything: the plain GROUP BY the benchmark compares with,
and the tests' cross-check.
"""

import dataclasses
import datetime as dt
from decimal import Decimal

from django.db import connection
from django.db.models import BigIntegerField, Count, F, Q, Sum, Value
from django.db.models.functions import Cast, Coalesce, Round
from django.utils import timezone

from cases.models import Deadline
from cases.money import minor_units

from .models import (
    CELL_AMOUNTS,
    CELL_COUNTS,
    COMPLIANCE_CLASSES,
    COUNTED_STATUSES,
    RESOLUTIONS,
    BreachCell,
    CaseCell,
    DurationCell,
    MerchantBreachCell,
    MerchantCell,
    MerchantStats,
    Sanction,
)
from .selectors import cached
from .summaries import BREACH_KINDS, as_date, case_measures, filed_cases, month_expression, percentile, rate, to_minor

#: The stages a dispute can end in, for the durations by stage.
STAGES = ["filed", "jurisdiction", "negotiation", "mediation", "arbitration", "defaulted"]


@dataclasses.dataclass(frozen=True)
class Filters:
    """What the operator narrowed the statistics to. Months are the first day of the month (UTC)."""

    start: dt.date | None = None
    end: dt.date | None = None
    consumer_country: str = ""
    merchant_country: str = ""
    country: str = ""  # either side
    category: str = ""
    merchant: int | None = None

    @property
    def narrows_cases(self) -> bool:
        return bool(self.consumer_country or self.merchant_country or self.country or self.category)

    def as_dict(self) -> dict:
        return {
            "from": self.start.strftime("%Y-%m") if self.start else None,
            "to": self.end.strftime("%Y-%m") if self.end else None,
            "consumer_country": self.consumer_country or None,
            "merchant_country": self.merchant_country or None,
            "country": self.country or None,
            "category": self.category or None,
            "merchant": self.merchant,
        }


def next_month(month: dt.date) -> dt.date:
    return (month.replace(day=28) + dt.timedelta(days=4)).replace(day=1)


def _dimension_q(f: Filters, prefix: str = "") -> Q:
    q = Q()
    if f.consumer_country:
        q &= Q(**{f"{prefix}consumer_country": f.consumer_country})
    if f.merchant_country:
        q &= Q(**{f"{prefix}merchant_country": f.merchant_country})
    if f.country:
        q &= Q(**{f"{prefix}consumer_country": f.country}) | Q(**{f"{prefix}merchant_country": f.country})
    if f.category:
        q &= Q(**{f"{prefix}category": f.category})
    return q


def _cases(f: Filters):
    """The filed cases the filters select (the cases table, through its indexes)."""
    qs = filed_cases().filter(_dimension_q(f))
    if f.start:
        qs = qs.filter(filed_at__gte=dt.datetime.combine(f.start, dt.time(), dt.UTC))
    if f.end:
        qs = qs.filter(filed_at__lt=dt.datetime.combine(next_month(f.end), dt.time(), dt.UTC))
    if f.merchant is not None:
        qs = qs.filter(merchant_id=f.merchant)
    return qs


def _months(qs, f: Filters, field: str = "month"):
    if f.start:
        qs = qs.filter(**{f"{field}__gte": f.start})
    if f.end:
        qs = qs.filter(**{f"{field}__lte": f.end})
    return qs


def _over(qs, outer: str) -> list[tuple]:
    """Run ``outer`` (PostgreSQL SQL the ORM cannot write, such as GROUPING SETS) over the rows of ``qs``:
    ``{}`` in it stands for the ORM's own SQL of ``qs``, whose every value is a parameter."""
    inner, params = qs.order_by().query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(outer.format(inner), params)
        return cursor.fetchall()


class _Summary:
    """The cells as the source of the counts: ``CaseCell``, or the merchant's ``MerchantCell`` rows when the
    filters name one (the same columns, so everything below reads either)."""

    name = "summary"

    def __init__(self, f: Filters):
        cells = CaseCell.objects.all() if f.merchant is None else MerchantCell.objects.filter(merchant_id=f.merchant)
        self.qs = _months(cells.filter(_dimension_q(f)), f)
        self.measures = {name: Sum(name) for name in CELL_COUNTS + CELL_AMOUNTS}

    def minor(self, value, currency) -> int:
        return int(value or 0)

    def pairs_and_categories(self) -> tuple[list, dict]:
        """Cases by country pair and by category, in one pass over the cells on PostgreSQL (GROUPING SETS;
        SQLite has none: two passes)."""
        if connection.vendor != "postgresql":
            return _pairs_and_categories(self.qs, self.measures["cases"])
        rows = _over(
            self.qs.values("consumer_country", "merchant_country", "category", "cases"),
            "SELECT GROUPING(category), consumer_country, merchant_country, category, SUM(cases) FROM ({}) AS cells "
            "GROUP BY GROUPING SETS ((consumer_country, merchant_country), (category))",
        )
        pairs = [(cc, mc, n) for by_category, cc, mc, _cat, n in rows if by_category]
        categories = [(cat, n) for by_category, _cc, _mc, cat, n in rows if not by_category]
        return _pairs_json(pairs), _categories_json(categories)


class _Cases:
    """The cases table as the source (plain GROUP BY)."""

    name = "cases"

    def __init__(self, f: Filters):
        self.qs = _cases(f).annotate(month=month_expression())
        self.measures = case_measures()

    def minor(self, value, currency) -> int:
        return to_minor(value or 0, currency)

    def pairs_and_categories(self) -> tuple[list, dict]:
        return _pairs_and_categories(self.qs, self.measures["cases"])


def _pairs_and_categories(qs, cases) -> tuple[list, dict]:
    pairs = qs.values_list("consumer_country", "merchant_country").annotate(n=cases).order_by()
    categories = qs.values_list("category").annotate(n=cases).order_by()
    return _pairs_json(pairs), _categories_json(categories)


def _pairs_json(rows) -> list[dict]:
    """Most cases first; ties by the countries' codes."""
    ordered = sorted(((cc, mc, int(n)) for cc, mc, n in rows if n), key=lambda r: (-r[2], r[0], r[1]))
    return [{"consumer_country": cc, "merchant_country": mc, "cases": n} for cc, mc, n in ordered]


def _categories_json(rows) -> dict:
    return dict(sorted(((c, int(n)) for c, n in rows if n), key=lambda r: (-r[1], r[0])))


def overview(f: Filters, *, source: str | None = None) -> dict:
    """Everything the dashboard and ``GET /api/v1/stats/overview/`` show for ``f``."""
    use_cases = source == "cases"
    src = _Cases(f) if use_cases else _Summary(f)
    m = src.measures
    currency_field = "currency" if src.name == "summary" else "claim_currency"
    # One pass by (month, currency) with every counter gives the totals, the months and the amounts
    # (a few hundred rows, added up here), instead of a pass over the cells for each.
    counted = CELL_COUNTS + CELL_AMOUNTS
    totals = dict.fromkeys(counted, 0)
    months: dict[dt.date, dict] = {}
    currencies: dict[str, dict] = {}
    for row in src.qs.values("month", currency_field).annotate(**{k: m[k] for k in counted}).order_by():
        month = months.setdefault(as_date(row["month"]), dict.fromkeys(counted, 0))
        money = currencies.setdefault(row[currency_field], {"cases": 0, **dict.fromkeys(CELL_AMOUNTS, 0)})
        for k in CELL_COUNTS:
            value = int(row[k] or 0)
            totals[k] += value
            month[k] += value
        money["cases"] += int(row["cases"] or 0)
        for k in CELL_AMOUNTS:
            money[k] += src.minor(row[k], row[currency_field])
    by_month = [
        {
            "month": month.strftime("%Y-%m"),
            "cases": c["cases"],
            "settled": c["res_settled"],
            "awarded": c["res_awarded"],
            "non_compliant": c["comp_non_compliant"],
        }
        for month, c in sorted(months.items())
        if c["cases"]
    ]
    amounts = [
        {
            "currency": currency,
            "cases": c["cases"],
            **{name.removesuffix("_minor"): _money(c[name], currency) for name in CELL_AMOUNTS},
        }
        for currency, c in sorted(currencies.items(), key=lambda item: (-item[1]["cases"], item[0]))
        if c["cases"]
    ]
    pairs, categories = src.pairs_and_categories()

    durations = _durations(f, cases=use_cases or f.narrows_cases or f.merchant is not None)
    breaches = _breaches(f, cases=use_cases)
    resolved = sum(totals[f"res_{r}"] for r in RESOLUTIONS)
    answered = totals["responded"] + totals["defaulted"]
    complied = totals["comp_confirmed"] + totals["comp_late"]
    return {
        "generated_at": timezone.now(),
        "source": src.name,
        "filters": f.as_dict(),
        "total": totals["cases"],
        "by_status": {s: totals[f"st_{s}"] for s in COUNTED_STATUSES},
        "by_category": categories,
        "by_country_pair": pairs,
        "by_month": by_month,
        "outcomes": {r: totals[f"res_{r}"] for r in RESOLUTIONS},
        "compliance": {c: totals[f"comp_{c}"] for c in COMPLIANCE_CLASSES},
        "settlement_rate": rate(totals["res_settled"], resolved),
        "default_rate": rate(totals["defaulted"], answered),
        "response_rate": rate(totals["responded"], answered),
        "compliance_rate": rate(complied, complied + totals["comp_non_compliant"]),
        "median_days_to_close": durations["close_days"]["median"],
        "durations": durations,
        "deadline_breaches": breaches,
        "amounts": amounts,
    }


def _figures(histogram) -> dict:
    return {
        "cases": sum(n for _v, n in histogram),
        "median": percentile(histogram, 0.5),
        "p90": percentile(histogram, 0.9),
    }


DURATION_COLUMNS = ["response_hours", "resolved_in", "resolution_days", "close_days"]
#: GROUPING(response_hours, resolution_days, close_days) -> which histogram a row belongs to (a bit is set
#: for each column the row's grouping set leaves out).
DURATION_SETS = {
    0b011: lambda hours, stage, days, close: ("response", hours, ""),
    0b101: lambda hours, stage, days, close: ("resolution", days, stage),
    0b110: lambda hours, stage, days, close: ("close", close, ""),
}


def _durations(f: Filters, *, cases: bool) -> dict:
    """Median and 90th percentile of: hours to the merchant's answer, days to the end of the dispute (in
    all and by the stage it ended in), days to closing."""
    histograms: dict[tuple, list] = {}
    if cases and connection.vendor == "postgresql":
        # One pass for the three histograms, through the covering pair/category/merchant indexes when
        # filtered so (index-only scans).
        rows = _over(
            _cases(f).values(*DURATION_COLUMNS),
            "SELECT GROUPING(response_hours, resolution_days, close_days), response_hours, resolved_in, "
            "resolution_days, close_days, COUNT(*) FROM ({}) AS d GROUP BY GROUPING SETS "
            "((response_hours), (resolved_in, resolution_days), (close_days))",
        )
        for grouped, hours, stage, days, close, n in rows:
            measure, value, stage = DURATION_SETS[grouped](hours, stage, days, close)
            if value is not None:
                histograms.setdefault((measure, stage), []).append((value, n))
    elif cases:
        qs = _cases(f)
        for measure, field, stage in (
            ("response", "response_hours", None),
            ("resolution", "resolution_days", "resolved_in"),
            ("close", "close_days", None),
        ):
            keys = [stage, field] if stage else [field]
            for row in qs.filter(**{f"{field}__isnull": False}).values(*keys).annotate(n=Count("pk")).order_by():
                histograms.setdefault((measure, row[stage] if stage else ""), []).append((row[field], row["n"]))
    else:
        rows = (
            _months(DurationCell.objects.all(), f)
            .values("measure", "stage", "value")
            .annotate(n=Sum("count"))
            .order_by()
        )
        for row in rows:
            histograms.setdefault((row["measure"], row["stage"]), []).append((row["value"], row["n"]))
    resolution_all = [pair for (measure, _s), h in histograms.items() if measure == "resolution" for pair in h]
    return {
        "response_hours": _figures(histograms.get(("response", ""), [])),
        "resolution_days": {
            "all": _figures(_merge(resolution_all)),
            **{stage: _figures(histograms.get(("resolution", stage), [])) for stage in STAGES},
        },
        "close_days": _figures(histograms.get(("close", ""), [])),
    }


def _merge(pairs) -> list:
    merged: dict[int, int] = {}
    for value, n in pairs:
        merged[value] = merged.get(value, 0) + n
    return list(merged.items())


def _breaches(f: Filters, *, cases: bool) -> dict:
    if cases:
        qs = Deadline.objects.filter(status="fired", kind__in=BREACH_KINDS, case__in=_cases(f))
        by_kind = dict(qs.values_list("kind").annotate(n=Count("pk")).order_by())
    else:
        cells = (
            BreachCell.objects.all()
            if f.merchant is None
            else MerchantBreachCell.objects.filter(merchant_id=f.merchant)
        )
        qs = _months(cells.filter(_dimension_q(f)), f)
        by_kind = dict(qs.values_list("kind").annotate(n=Sum("count")).order_by())
    by_kind = {kind: int(by_kind.get(kind, 0)) for kind in BREACH_KINDS}
    return {"total": sum(by_kind.values()), "by_kind": by_kind}


def _money(minor: int, currency: str) -> dict:
    return {"amount": str(Decimal(minor).scaleb(-minor_units().get(currency, 2))), "currency": currency}


# --- the merchant table -----------------------------------------------------------------------------------

#: The orderings the merchant table offers, worst first. Each is one unique whole number per row (the
#: figure scaled, then the merchant's id), because a cursor stands on the first ordering value alone:
#: with ties it would count its way through them by offset, which stops after a thousand. Rates and
#: times a merchant has none of yet sort last.
MERCHANT_ORDERINGS = {
    "risk": ("-sort_risk",),
    "cases": ("-sort_cases",),
    "response_rate": ("sort_response_rate",),
    "compliance_rate": ("sort_compliance_rate",),
    "median_response_hours": ("-sort_median_response_hours",),
    "non_compliant": ("-sort_non_compliant",),
}
_ID_SPAN = 10**9  # merchant ids stay below this


def _sort_key(figure) -> Cast:
    """``round(figure) * 10^9 + merchant id``, as a 64-bit integer: unique, and ordered by the figure."""
    return Cast(Round(figure) * Value(_ID_SPAN) + F("merchant_id"), BigIntegerField())


def merchant_rows(*, country: str = "", search: str = "", merchant: int | None = None):
    qs = (
        MerchantStats.objects.select_related("merchant")
        .filter(cases__gt=0)
        .annotate(
            # Descending orders use the merchant id descending too; that is fine: it only breaks ties.
            sort_risk=_sort_key(F("risk_score") * Value(1000.0)),
            sort_cases=_sort_key(F("cases")),
            sort_non_compliant=_sort_key(F("comp_non_compliant")),
            sort_response_rate=_sort_key(Coalesce("response_rate", Value(2.0)) * Value(10000.0)),
            sort_compliance_rate=_sort_key(Coalesce("compliance_rate", Value(2.0)) * Value(10000.0)),
            sort_median_response_hours=_sort_key(Coalesce("median_response_hours", Value(-1.0)) * Value(100.0)),
        )
    )
    if country:
        qs = qs.filter(merchant__country=country)
    if search:
        qs = qs.filter(merchant__legal_name__icontains=search)
    if merchant:
        qs = qs.filter(merchant_id=merchant)
    return qs


def merchant_json(rows) -> list[dict]:
    """The table's rows, with each merchant's highest active sanction (one query for the page)."""
    rows = list(rows)
    sanctions: dict[int, Sanction] = {}
    for sanction in Sanction.objects.filter(merchant_id__in=[r.merchant_id for r in rows], lifted_at__isnull=True):
        held = sanctions.get(sanction.merchant_id)
        if held is None or sanction.rank > held.rank:
            sanctions[sanction.merchant_id] = sanction
    return [
        {
            "merchant": {"id": r.merchant_id, "legal_name": r.merchant.legal_name, "country": str(r.merchant.country)},
            "cases": r.cases,
            "open": r.open,
            "recent_cases": r.recent_cases,
            "response_rate": r.response_rate,
            "median_response_hours": r.median_response_hours,
            "compliance_rate": r.compliance_rate,
            "non_compliant": r.comp_non_compliant,
            "non_compliant_now": r.non_compliant_now,
            "deadline_breaches": r.breaches,
            "sanction": sanctions[r.merchant_id].level if r.merchant_id in sanctions else None,
            "risk_score": round(r.risk_score, 2),
            "risk_flags": r.risk_flags,
        }
        for r in rows
    ]


# --- the public transparency page -------------------------------------------------------------------------

TRANSPARENCY_CACHE_KEY = "oversight:transparency:v1"
TRANSPARENCY_CACHE_SECONDS = 600


def quarter_of(month: dt.date) -> str:
    return f"{month.year}-Q{(month.month - 1) // 3 + 1}"


def transparency() -> dict:
    """Anonymised totals and outcomes by quarter of filing, newest first (no merchant, no person, no
    country): cases filed, how they ended, how often outcomes were carried out, and how long disputes
    took. Cached for ten minutes."""
    return cached(TRANSPARENCY_CACHE_KEY, TRANSPARENCY_CACHE_SECONDS, _quarters)


def _quarters() -> dict:
    names = ["cases", *(f"res_{r}" for r in RESOLUTIONS), *(f"comp_{c}" for c in COMPLIANCE_CLASSES)]
    quarters: dict[str, dict] = {}
    for row in CaseCell.objects.values("month").annotate(**{n: Sum(n) for n in names}).order_by():
        q = quarters.setdefault(quarter_of(row["month"]), dict.fromkeys(names, 0) | {"days": []})
        for n in names:
            q[n] += int(row[n] or 0)
    durations = DurationCell.objects.filter(measure="resolution").values("month", "value").annotate(n=Sum("count"))
    for row in durations.order_by():
        q = quarters.get(quarter_of(row["month"]))
        if q is not None:
            q["days"].append((row["value"], row["n"]))
    rows = []
    for quarter in sorted(quarters, reverse=True):
        q = quarters[quarter]
        resolved = sum(q[f"res_{r}"] for r in RESOLUTIONS)
        complied = q["comp_confirmed"] + q["comp_late"]
        rows.append(
            {
                "quarter": quarter,
                "filed": q["cases"],
                "outcomes": {r: q[f"res_{r}"] for r in RESOLUTIONS},
                "still_open": q["cases"] - resolved,
                "settlement_rate": rate(q["res_settled"], resolved),
                "compliance_rate": rate(complied, complied + q["comp_non_compliant"]),
                "median_days_to_resolution": percentile(_merge(q["days"]), 0.5),
            }
        )
    return {"quarters": rows}
