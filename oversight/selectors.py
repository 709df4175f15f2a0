"""Reads of the operator's side: the merchant's compliance record and the public register's figures."""

import datetime as dt

from django.core.cache import cache
from django.db.models import Count, Q
from django.utils import timezone

from accounts.models import MerchantOrganisation
from cases.models import Case, ComplianceStatus, Status

from .models import Sanction

REGISTER_CACHE_KEY = "oversight:register:v1"
REGISTER_CACHE_SECONDS = 60


def merchant_record(merchant: MerchantOrganisation) -> dict:
    """What the operator weighs before a sanction: the merchant's cases by outcome and its sanctions."""
    cases = Case.objects.filter(merchant=merchant).exclude(status=Status.DRAFT)
    counts = cases.aggregate(
        total=Count("pk"),
        owed=Count("pk", filter=Q(outcome__compliance__isnull=False)),
        confirmed=Count("pk", filter=Q(outcome__compliance=ComplianceStatus.CONFIRMED)),
        non_compliant_now=Count("pk", filter=Q(status=Status.NON_COMPLIANT)),
        ever_non_compliant=Count("pk", filter=Q(outcome__non_compliant_at__isnull=False)),
    )
    return {
        **counts,
        "non_compliant_cases": list(cases.filter(status=Status.NON_COMPLIANT).order_by("-updated_at")[:100]),
        "sanctions": list(Sanction.objects.filter(merchant=merchant).select_related("imposed_by", "lifted_by")),
    }


def register_data() -> dict:
    """The public compliance register: merchants under an active sanction, and anonymised outcomes.

    Only counts and rates; no consumer, no case reference. Cached for a minute (in Redis when deployed)."""
    return cached(REGISTER_CACHE_KEY, REGISTER_CACHE_SECONDS, _register)


def cached(key: str, seconds: int, compute) -> dict:
    """``compute()`` (a dict) stamped with ``generated_at``, kept in the cache for ``seconds``. The age is
    checked against the platform's clock as well as left to the cache's expiry."""
    data = cache.get(key)
    if data is not None and timezone.now() - data["generated_at"] < dt.timedelta(seconds=seconds):
        return data
    data = {"generated_at": timezone.now(), **compute()}
    cache.set(key, data, seconds)
    return data


def _register() -> dict:
    active = (
        Sanction.objects.filter(lifted_at__isnull=True)
        .select_related("merchant")
        .order_by("merchant__legal_name", "-imposed_at")
    )
    merchants: dict[int, dict] = {}
    for sanction in active:
        entry = merchants.setdefault(
            sanction.merchant_id,
            {
                "merchant": {
                    "id": sanction.merchant_id,
                    "legal_name": sanction.merchant.legal_name,
                    "country": str(sanction.merchant.country),
                },
                "level": sanction.level,
                "rank": sanction.rank,
                "since": sanction.imposed_at,
                "reason": sanction.reason,
            },
        )
        if sanction.rank > entry["rank"]:
            entry.update(level=sanction.level, rank=sanction.rank, since=sanction.imposed_at, reason=sanction.reason)
    unresolved = dict(
        Case.objects.filter(merchant_id__in=list(merchants), status=Status.NON_COMPLIANT)
        .values_list("merchant_id")
        .annotate(n=Count("pk"))
    )
    listed = []
    for merchant_id, entry in merchants.items():
        entry.pop("rank")
        entry["non_compliant_cases"] = unresolved.get(merchant_id, 0)
        listed.append(entry)
    listed.sort(key=lambda e: (e["merchant"]["legal_name"].lower(), e["merchant"]["id"]))

    filed = Case.objects.exclude(status=Status.DRAFT)
    outcomes = filed.aggregate(
        cases=Count("pk"),
        open=Count("pk", filter=Q(status__in=[Status.FILED, Status.JURISDICTION, Status.NEGOTIATION,
                                               Status.MEDIATION, Status.ARBITRATION, Status.DEFAULTED])),
        settled=Count("pk", filter=Q(outcome__kind="settlement")),
        awarded=Count("pk", filter=Q(outcome__kind="award") & ~Q(outcome__decision="dismissed")),
        dismissed=Count("pk", filter=Q(outcome__kind="award", outcome__decision="dismissed")),
        withdrawn=Count("pk", filter=Q(status=Status.WITHDRAWN)),
        rejected=Count("pk", filter=Q(status=Status.REJECTED)),
        complied=Count("pk", filter=Q(outcome__compliance=ComplianceStatus.CONFIRMED)),
        complied_late=Count(
            "pk", filter=Q(outcome__compliance=ComplianceStatus.CONFIRMED, outcome__non_compliant_at__isnull=False)
        ),
        non_compliant=Count("pk", filter=Q(status=Status.NON_COMPLIANT)),
    )  # fmt: skip
    decided = outcomes["complied"] + outcomes["non_compliant"]
    outcomes["compliance_rate"] = round(outcomes["complied"] / decided, 4) if decided else None
    return {"sanctioned_merchants": listed, "outcomes": outcomes}


def register_forget() -> None:
    """Drop the cached register (a sanction was applied or lifted)."""
    cache.delete(REGISTER_CACHE_KEY)
