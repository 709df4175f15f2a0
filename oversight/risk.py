"""The risk job: flag merchants and markets that need the operator's eye, and score every merchant.

Runs from beat (``oversight.tasks.risk_scan``, hourly by default) over the cases table's indexes. The
windows are whole UTC days: "this week" is today and the six days before it; the baseline is the twelve
weeks before that.

**Complaint spikes** (per merchant) and **category bursts** (per category and country pair): this week's
count ``x`` against the baseline weeks ``b``: the twelve weeks before, or the weeks since the subject's
first filing when that is more recent (weeks before a merchant's first case are not weeks without
complaints); a subject with fewer than four such weeks is not tested yet. Two tests must agree before an
alert is raised:

- a Poisson test: ``p = P(X >= x)`` for ``X ~ Poisson(lambda)``, ``lambda = max(mean(b), 0.5)``, and
  ``p < ODR_ALERT_P_VALUE`` (default 0.001). Complaint counts are small counts, for which the Poisson
  model is the natural null; the floor on lambda keeps a merchant with no history from alerting on one
  complaint;
- a robust z-score: ``z = (x - median(b)) / (1.4826 * MAD(b))`` (the MAD scaled to a standard deviation;
  when the baseline never varied, ``sqrt(lambda)`` is the scale), and ``z >= ODR_ALERT_MIN_Z`` (3.5).
  This guards against merchants whose weekly counts swing more than Poisson (overdispersion): a week
  like their usual bad weeks is not flagged.

and ``x`` must be at least ``ODR_ALERT_MIN_COUNT`` (5 per merchant, twice that for a category burst).

**Falling rates** (per merchant): the response rate (answered / answered or defaulted) of the cases filed
14 to 44 days ago against those filed 44 to 134 days ago, and the compliance rate (carried out / carried
out or not, by when the dispute ended) of the last 30 days against the 90 before. An alert needs at
least 10 cases on each side, a fall of at least 0.2 and a two-proportion z-test of z <= -3.

An alert is not raised again for the same kind and subject within 7 days of the last one. New alerts are
notified to every operator (in the app and on their open pages).

**The risk score** that sorts the merchant table adds up, for each merchant: the strength of this week's
complaint count (``-log10 p`` of the Poisson test, at most 10), 10 x (1 - response rate), 10 x (1 -
compliance rate), and 2 per case it has not complied with now (at most 20).
"""

import dataclasses
import datetime as dt
import math
import statistics

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models import Count, Q
from django.db.models.functions import TruncDate
from django.utils import timezone

from accounts.models import Role, User

from .models import AlertKind, AlertStatus, MerchantStats, RiskAlert
from .summaries import filed_cases

WEEKS = 12
#: A subject needs this many baseline weeks since its first filing before its counts are tested.
MIN_HISTORY_WEEKS = 4
REPEAT_AFTER = dt.timedelta(days=7)


def poisson_tail(x: int, lam: float) -> float:
    """P(X >= x) for X ~ Poisson(lam): the regularized lower incomplete gamma function P(x, lam), by its
    series when lam < x + 1 and by the continued fraction of its complement otherwise, every term in log
    space (exact to double precision for any baseline, tiny tails included)."""
    if x <= 0:
        return 1.0
    if lam <= 0:
        return 0.0
    log_prefix = x * math.log(lam) - lam - math.lgamma(x)
    if lam < x + 1:
        # P(a, z) = z^a e^-z / Gamma(a) * sum_n z^n / (a (a+1) ... (a+n))
        term = total = 1.0 / x
        a = x
        for _ in range(10_000):
            a += 1
            term *= lam / a
            total += term
            if term < total * 1e-15:
                break
        return min(1.0, math.exp(log_prefix + math.log(total)))
    # Q(a, z) by Lentz's continued fraction; P = 1 - Q.
    tiny = 1e-300
    b = lam + 1 - x
    c = 1 / tiny
    d = 1 / b
    h = d
    for i in range(1, 10_000):
        an = -i * (i - x)
        b += 2
        d = an * d + b
        d = tiny if abs(d) < tiny else d
        c = b + an / c
        c = tiny if abs(c) < tiny else c
        d = 1 / d
        delta = d * c
        h *= delta
        if abs(delta - 1) < 1e-15:
            break
    return max(0.0, 1.0 - math.exp(log_prefix + math.log(h)))


def robust_z(x: float, baseline: list[float], lam: float) -> float:
    median = statistics.median(baseline)
    mad = statistics.median(abs(b - median) for b in baseline)
    scale = 1.4826 * mad if mad > 0 else math.sqrt(lam)
    return (x - median) / scale


@dataclasses.dataclass
class CountTest:
    observed: int
    expected: float
    p_value: float
    z: float
    baseline: list[int]

    def flagged(self, min_count: int) -> bool:
        return (
            self.observed >= min_count
            and self.p_value < settings.ODR_ALERT_P_VALUE
            and self.z >= settings.ODR_ALERT_MIN_Z
        )


def count_test(weeks: list[int]) -> CountTest:
    """``weeks[0]`` is this week, ``weeks[1:]`` the baseline."""
    observed, baseline = weeks[0], weeks[1:]
    lam = max(sum(baseline) / len(baseline), 0.5)
    return CountTest(observed, round(lam, 3), poisson_tail(observed, lam), robust_z(observed, baseline, lam), baseline)


def two_proportion_z(hits_a: int, n_a: int, hits_b: int, n_b: int) -> float:
    """z of ``a``'s rate against ``b``'s (negative when ``a`` is lower), pooled standard error."""
    pooled = (hits_a + hits_b) / (n_a + n_b)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n_a + 1 / n_b))
    if se == 0:
        return 0.0
    return (hits_a / n_a - hits_b / n_b) / se


def _weekly(now: dt.datetime, group: tuple[str, ...]) -> dict[tuple, list[int]]:
    """Cases filed per week (0 = this week) for each ``group`` key over the last 13 weeks."""
    today = now.astimezone(dt.UTC).date()
    since = dt.datetime.combine(today - dt.timedelta(days=7 * (WEEKS + 1) - 1), dt.time(), dt.UTC)
    rows = (
        filed_cases()
        .filter(filed_at__gte=since, filed_at__lte=now)
        .annotate(day=TruncDate("filed_at", tzinfo=dt.UTC))
        .values(*group, "day")
        .annotate(n=Count("pk"))
        .order_by()
    )
    weeks: dict[tuple, list[int]] = {}
    for row in rows:
        week = (today - row["day"]).days // 7
        if 0 <= week <= WEEKS:
            weeks.setdefault(tuple(row[g] for g in group), [0] * (WEEKS + 1))[week] += row["n"]
    return weeks


def _with_history(weekly: dict[tuple, list[int]], group: tuple[str, ...], now) -> dict[tuple, list[int]]:
    """Each subject's weeks cut to the baseline weeks it existed for (since its first filing ever); those
    with fewer than ``MIN_HISTORY_WEEKS`` are left out: weeks before a merchant's first case are not weeks
    of zero complaints, and a new merchant's steady volume is no spike."""
    today = now.astimezone(dt.UTC).date()
    oldest = dt.datetime.combine(today - dt.timedelta(days=7 * (WEEKS + 1) - 1), dt.time(), dt.UTC)
    young = [key for key, weeks in weekly.items() if weeks[-1] == 0]  # nothing in the oldest week
    first: dict[tuple, dt.date] = {}
    if young:
        rows = filed_cases().filter(filed_at__lt=oldest).values(*group).annotate(n=Count("pk")).order_by()
        older = {tuple(row[g] for g in group) for row in rows}
        for key in young:
            if key not in older:
                weeks = weekly[key]
                oldest_week = max(i for i, n in enumerate(weeks) if n) if any(weeks) else 0
                first[key] = today - dt.timedelta(days=7 * oldest_week + 6)
    kept = {}
    for key, weeks in weekly.items():
        if key in first:
            # Whole baseline weeks since the first filing (the week of the first filing counts in full).
            full = min(WEEKS, (today - first[key]).days // 7)
            weeks = weeks[: full + 1]
        if len(weeks) - 1 >= MIN_HISTORY_WEEKS:
            kept[key] = weeks
    return kept


def _recent(kind, now, **subject) -> bool:
    return RiskAlert.objects.filter(kind=kind, created_at__gte=now - REPEAT_AFTER, **subject).exists()


SCAN_LOCK = "oversight:risk-scan"


def scan(now: dt.datetime | None = None) -> list[RiskAlert]:
    """Run every test, store and notify the new alerts, and rescore the merchants. Returns the new alerts.

    One scan at a time (a lock in the cache, i.e. Redis when deployed): a second one started meanwhile
    (beat's next tick, ``stats_rebuild``) returns at once instead of raising the same alerts twice."""
    if not cache.add(SCAN_LOCK, 1, timeout=1800):
        return []
    try:
        return _scan(now)
    finally:
        cache.delete(SCAN_LOCK)


def _scan(now: dt.datetime | None) -> list[RiskAlert]:
    now = now or timezone.now()
    window_start = dt.datetime.combine(now.astimezone(dt.UTC).date() - dt.timedelta(days=6), dt.time(), dt.UTC)
    min_count = settings.ODR_ALERT_MIN_COUNT
    raised: list[RiskAlert] = []
    spikes: dict[int, CountTest] = {}

    group = ("merchant_id",)
    weekly = _weekly(now, group)
    for (merchant_id,), weeks in _with_history(weekly, group, now).items():
        test = count_test(weeks)
        spikes[merchant_id] = test
        if test.flagged(min_count) and not _recent(AlertKind.COMPLAINT_SPIKE, now, merchant_id=merchant_id):
            raised.append(_alert(AlertKind.COMPLAINT_SPIKE, test, window_start, now, merchant_id=merchant_id))

    group = ("category", "consumer_country", "merchant_country")
    weekly = _weekly(now, group)
    for (category, cc, mc), weeks in _with_history(weekly, group, now).items():
        test = count_test(weeks)
        subject = {"category": category, "consumer_country": cc, "merchant_country": mc}
        if test.flagged(2 * min_count) and not _recent(AlertKind.CATEGORY_BURST, now, merchant=None, **subject):
            raised.append(_alert(AlertKind.CATEGORY_BURST, test, window_start, now, **subject))

    raised += _rate_drops(now)
    with transaction.atomic():
        for alert in raised:
            alert.save()
        _notify(raised)
    # Outside that transaction, a thousand merchants at a time, in id order: a case move waits for its
    # merchant's row only as long as one batch takes.
    _rescore(now, spikes)
    return raised


def _alert(kind, test: CountTest, start, end, **subject) -> RiskAlert:
    return RiskAlert(
        kind=kind,
        created_at=end,
        window_start=start,
        window_end=end,
        observed=test.observed,
        expected=test.expected,
        score=round(test.z, 3),
        p_value=test.p_value,
        details={"baseline_weeks": test.baseline, "test": "poisson+robust_z"},
        **subject,
    )


def _rate_drops(now) -> list[RiskAlert]:
    alerts = []
    day = dt.timedelta(days=1)
    answered = Q(responded_at__isnull=False) | Q(defaulted=True)
    response = _windows(
        filed_cases().filter(answered),
        "filed_at",
        recent=(now - 44 * day, now - 14 * day),
        prior=(now - 134 * day, now - 44 * day),
        hit=Q(responded_at__isnull=False),
    )
    decided = Q(outcome__compliance__in=["confirmed", "non_compliant"])
    compliance = _windows(
        filed_cases().filter(decided),
        "resolved_at",
        recent=(now - 30 * day, now),
        prior=(now - 120 * day, now - 30 * day),
        hit=Q(outcome__compliance="confirmed"),
    )
    for kind, table, (start, end) in (
        (AlertKind.RESPONSE_DROP, response, (now - 44 * day, now - 14 * day)),
        (AlertKind.COMPLIANCE_DROP, compliance, (now - 30 * day, now)),
    ):
        for merchant_id, (hits_a, n_a, hits_b, n_b) in table.items():
            if n_a < 10 or n_b < 10:
                continue
            drop = hits_b / n_b - hits_a / n_a
            z = two_proportion_z(hits_a, n_a, hits_b, n_b)
            if drop >= 0.2 and z <= -3 and not _recent(kind, now, merchant_id=merchant_id):
                alerts.append(
                    RiskAlert(
                        kind=kind,
                        created_at=now,
                        merchant_id=merchant_id,
                        window_start=start,
                        window_end=end,
                        observed=round(hits_a / n_a, 4),
                        expected=round(hits_b / n_b, 4),
                        score=round(z, 3),
                        p_value=0.5 * math.erfc(-z / math.sqrt(2)),
                        details={"recent": [hits_a, n_a], "before": [hits_b, n_b], "test": "two_proportion_z"},
                    )
                )
    return alerts


def _windows(qs, field, *, recent, prior, hit) -> dict[int, list[int]]:
    """Per merchant: [hits, cases] in the recent window, then in the prior one."""
    in_recent = Q(**{f"{field}__gte": recent[0], f"{field}__lt": recent[1]})
    in_prior = Q(**{f"{field}__gte": prior[0], f"{field}__lt": prior[1]})
    rows = (
        qs.filter(in_recent | in_prior)
        .values("merchant_id")
        .annotate(
            hits_a=Count("pk", filter=in_recent & hit),
            n_a=Count("pk", filter=in_recent),
            hits_b=Count("pk", filter=in_prior & hit),
            n_b=Count("pk", filter=in_prior),
        )
        .order_by()
    )
    return {r["merchant_id"]: [r["hits_a"], r["n_a"], r["hits_b"], r["n_b"]] for r in rows}


def _notify(alerts: list[RiskAlert]) -> None:
    if not alerts:
        return
    from notifications.services import notify_operators_alert

    operators = list(User.objects.filter(role=Role.OPERATOR, is_active=True))
    for alert in alerts:
        notify_operators_alert(alert=alert, operators=operators)


def _rescore(now, spikes: dict[int, CountTest]) -> None:
    open_kinds: dict[int, set] = {}
    for merchant_id, kind in RiskAlert.objects.filter(status=AlertStatus.OPEN, merchant__isnull=False).values_list(
        "merchant_id", "kind"
    ):
        open_kinds.setdefault(merchant_id, set()).add(kind)
    batch = []
    for row in MerchantStats.objects.order_by("merchant_id").iterator(chunk_size=2000):
        test = spikes.get(row.merchant_id)
        strength = min(10.0, -math.log10(max(test.p_value, 1e-300))) if test and test.observed >= 3 else 0.0
        score = strength
        score += 10 * (1 - row.response_rate) if row.response_rate is not None else 0
        score += 10 * (1 - row.compliance_rate) if row.compliance_rate is not None else 0
        score += min(20, 2 * row.non_compliant_now)
        flags = sorted(open_kinds.get(row.merchant_id, set()))
        if row.non_compliant_now:
            flags.append("non_compliant")
        row.risk_score = round(score, 3)
        row.risk_flags = flags
        row.recent_cases = test.observed if test else 0
        row.risk_updated_at = now
        batch.append(row)
        if len(batch) >= 1000:
            MerchantStats.objects.bulk_update(batch, ["risk_score", "risk_flags", "recent_cases", "risk_updated_at"])
            batch = []
    MerchantStats.objects.bulk_update(batch, ["risk_score", "risk_flags", "recent_cases", "risk_updated_at"])
