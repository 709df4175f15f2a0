"""``manage.py seed_bulk --cases N``: fill the database with N realistic cases by bulk insert, for the
statistics, the benchmarks and load tests (not for the demo: ``seed_demo`` is that).

Countries, categories, currencies, states and durations come in plausible proportions (weights below,
from the shape of the EU ODR platform's and eBay's published complaint mixes: most complaints are about
goods never delivered or not as described, most buyers in the big EU markets and the US, many sellers in
China). Merchants' volumes follow a Zipf law, so a few shops have thousands of cases and most have a
handful. Filing dates spread evenly over ``--years`` (a steady volume, so the risk alerts see no spike that
the generator made); cases filed in the last 45 days are mostly still open, older ones ended.

The rows go in with ``bulk_create`` in batches, each batch in its own transaction, with references from
the yearly counters (advanced under their row lock, so later filings never collide). Bulk cases have no
event log, deadlines or evidence: they stand for history, not for cases anyone will act on. Users get no
usable password. Deterministic for a given ``--seed``.
"""

import bisect
import datetime as dt
import itertools
import random
import time
import uuid
from decimal import Decimal

from django.contrib.auth.hashers import make_password
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from accounts.models import MerchantOrganisation, Role, User
from cases.models import Case, Category, ComplianceStatus, ReferenceCounter, Remedy, Status
from cases.money import minor_units

# (country, weight, currency, time zone, language)
CONSUMER_COUNTRIES = [
    ("DE", 15, "EUR", "Europe/Berlin", "en"), ("FR", 12, "EUR", "Europe/Paris", "en"),
    ("GB", 10, "GBP", "Europe/London", "en"), ("US", 10, "USD", "America/New_York", "en"),
    ("CN", 9, "CNY", "Asia/Shanghai", "zh-hans"), ("ES", 8, "EUR", "Europe/Madrid", "en"),
    ("IT", 8, "EUR", "Europe/Rome", "en"), ("NL", 5, "EUR", "Europe/Amsterdam", "en"),
    ("PL", 5, "PLN", "Europe/Warsaw", "en"), ("JP", 4, "JPY", "Asia/Tokyo", "en"),
    ("SE", 3, "SEK", "Europe/Stockholm", "en"), ("BE", 3, "EUR", "Europe/Brussels", "en"),
    ("AT", 3, "EUR", "Europe/Vienna", "en"), ("IE", 2, "EUR", "Europe/Dublin", "en"),
    ("PT", 2, "EUR", "Europe/Lisbon", "en"), ("CA", 1, "CAD", "America/Toronto", "en"),
]  # fmt: skip
MERCHANT_COUNTRIES = [
    ("CN", 35, "Asia/Shanghai"), ("US", 15, "America/Los_Angeles"), ("DE", 10, "Europe/Berlin"),
    ("GB", 8, "Europe/London"), ("HK", 5, "Asia/Hong_Kong"), ("JP", 5, "Asia/Tokyo"), ("FR", 5, "Europe/Paris"),
    ("KR", 4, "Asia/Seoul"), ("NL", 4, "Europe/Amsterdam"), ("IT", 3, "Europe/Rome"), ("ES", 3, "Europe/Madrid"),
    ("PL", 3, "Europe/Warsaw"),
]  # fmt: skip
CATEGORIES = [
    (Category.NON_DELIVERY, 30), (Category.NOT_AS_DESCRIBED, 20), (Category.DEFECTIVE, 18),
    (Category.REFUND_NOT_HONOURED, 12), (Category.COUNTERFEIT, 8), (Category.UNAUTHORISED_CHARGE, 6),
    (Category.OTHER, 4), (Category.DATA_PRIVACY, 2),
]  # fmt: skip
REMEDY_FOR = {
    Category.NON_DELIVERY: Remedy.REFUND, Category.NOT_AS_DESCRIBED: Remedy.PRICE_REDUCTION,
    Category.DEFECTIVE: Remedy.REPAIR, Category.REFUND_NOT_HONOURED: Remedy.REFUND,
    Category.COUNTERFEIT: Remedy.REFUND, Category.UNAUTHORISED_CHARGE: Remedy.REFUND,
    Category.OTHER: Remedy.COMPENSATION, Category.DATA_PRIVACY: Remedy.COMPENSATION,
}  # fmt: skip
# (state, weight, still open: filed in the last weeks)
STATES = [
    (Status.CLOSED, 44, False), (Status.WITHDRAWN, 8, False), (Status.REJECTED, 4, False),
    (Status.SETTLED, 4, True), (Status.COMPLIANCE, 3, True), (Status.AWARDED, 2, True),
    (Status.NON_COMPLIANT, 2, False), (Status.FILED, 6, True), (Status.JURISDICTION, 3, True),
    (Status.NEGOTIATION, 9, True), (Status.MEDIATION, 7, True), (Status.ARBITRATION, 5, True),
    (Status.DEFAULTED, 1, True), (Status.DRAFT, 2, True),
]  # fmt: skip
#: Typical claim in each currency's units (lognormal around it).
TYPICAL_CLAIM = {"EUR": 80, "GBP": 70, "USD": 90, "CNY": 600, "PLN": 350, "JPY": 12000, "SEK": 900, "CAD": 110}
PRODUCTS = [
    "Headphones", "Sneakers", "Phone case", "Smart watch", "Dress", "Coffee grinder", "Drone", "Backpack",
    "Perfume", "Tablet", "Jacket", "LED lamp", "Board game", "Vacuum robot", "Sunglasses", "E-book reader",
]  # fmt: skip


class _Weighted:
    def __init__(self, items, weight=lambda item: item[1]):
        self.items = list(items)
        self.cumulative = list(itertools.accumulate(weight(i) for i in self.items))

    def pick(self, rng: random.Random):
        return self.items[bisect.bisect(self.cumulative, rng.random() * self.cumulative[-1])]


class Command(BaseCommand):
    help = "Insert N realistic cases (and their consumers and merchants) by bulk insert."

    def add_arguments(self, parser):
        parser.add_argument("--cases", type=int, required=True)
        parser.add_argument("--merchants", type=int, help="default: one per 200 cases, at least 20")
        parser.add_argument("--consumers", type=int, help="default: one per 3 cases, at least 50")
        parser.add_argument("--years", type=float, default=3.0, help="how far back filings go")
        parser.add_argument("--batch", type=int, default=5000)
        parser.add_argument("--seed", type=int, default=2026)

    def handle(self, *args, cases, merchants, consumers, years, batch, seed, **opts):
        if cases < 1:
            raise CommandError("--cases must be at least 1")
        started = time.monotonic()
        rng = random.Random(seed)
        run = uuid.uuid4().hex[:8]  # keeps e-mail addresses unique across runs
        merchants = merchants or max(20, cases // 200)
        consumers = consumers or max(50, cases // 3)
        shops = self._merchants(rng, run, merchants)
        buyers = self._consumers(rng, run, consumers, batch)
        # Zipf: merchant k (1-based) gets a share proportional to 1/k.
        shop_pick = _Weighted(list(enumerate(shops, start=1)), weight=lambda item: 1 / item[0])
        now = timezone.now()
        made = 0
        while made < cases:
            size = min(batch, cases - made)
            rows = [self._case(rng, buyers, shop_pick, now, years) for _ in range(size)]
            with transaction.atomic():
                self._references(rows)
                Case.objects.bulk_create(rows, batch_size=batch)
            made += size
            if opts.get("verbosity", 1) > 1:
                self.stdout.write(f"  {made} cases")
        self.stdout.write(
            f"seed_bulk: {made} cases, {len(shops)} merchants, {len(buyers)} consumers "
            f"in {time.monotonic() - started:.1f} s"
        )

    # --- people -------------------------------------------------------------------------------
    def _merchants(self, rng, run, count):
        countries = _Weighted(MERCHANT_COUNTRIES)
        picked = [countries.pick(rng) for _ in range(count)]
        orgs = MerchantOrganisation.objects.bulk_create(
            [
                MerchantOrganisation(legal_name=f"Bulk Shop {run}-{i:06d}", country=country, time_zone=tz)
                for i, (country, _w, tz) in enumerate(picked)
            ],
            batch_size=2000,
        )
        unusable = make_password(None)
        User.objects.bulk_create(
            [
                User(
                    email=f"shop-{run}-{i:06d}@bulk.odr",
                    password=unusable,
                    role=Role.MERCHANT,
                    display_name=f"Shop {i}",
                    country=org.country,
                    time_zone=org.time_zone,
                    organisation=org,
                )
                for i, org in enumerate(orgs)
            ],
            batch_size=2000,
        )
        return orgs

    def _consumers(self, rng, run, count, batch):
        countries = _Weighted(CONSUMER_COUNTRIES)
        unusable = make_password(None)
        people = []
        for start in range(0, count, batch):
            rows = []
            for i in range(start, min(count, start + batch)):
                country, _w, currency, tz, language = countries.pick(rng)
                rows.append(
                    User(
                        email=f"buyer-{run}-{i:07d}@bulk.odr",
                        password=unusable,
                        role=Role.CONSUMER,
                        display_name=f"Buyer {i}",
                        country=country,
                        time_zone=tz,
                        language=language,
                    )
                )
            with transaction.atomic():
                people.extend(User.objects.bulk_create(rows, batch_size=batch))
        currency_of = {c[0]: c[2] for c in CONSUMER_COUNTRIES}
        return [(u.pk, str(u.country), currency_of[str(u.country)], u.language) for u in people]

    # --- cases --------------------------------------------------------------------------------
    #: Cases filed in the last 45 days: every state (open ones as the table weighs them, ended ones half as
    #: often); older cases: the ended states only.
    _recent_states = _Weighted(STATES, weight=lambda item: item[1] if item[2] else item[1] / 2)
    _old_states = _Weighted([s for s in STATES if not s[2]])
    _categories = _Weighted(CATEGORIES)

    def _case(self, rng, buyers, shop_pick, now, years):
        consumer_id, consumer_country, currency, language = buyers[rng.randrange(len(buyers))]
        _rank, shop = shop_pick.pick(rng)
        age = rng.uniform(0, years * 365)
        state, _w, _open = (self._recent_states if age < 45 else self._old_states).pick(rng)
        category, _w = self._categories.pick(rng)
        created = now - dt.timedelta(days=age)
        exponent = minor_units().get(currency, 2)
        claim = Decimal(str(round(rng.lognormvariate(0, 0.8) * TYPICAL_CLAIM.get(currency, 80), exponent)))
        claim = max(claim, Decimal(1))
        filed = None if state == Status.DRAFT else created + dt.timedelta(minutes=rng.uniform(1, 600))
        closed = None
        outcome = None
        if state in (Status.CLOSED, Status.WITHDRAWN, Status.REJECTED, Status.NON_COMPLIANT):
            closed = min(now, filed + dt.timedelta(days=rng.lognormvariate(3.1, 0.6)))  # median ~22 days
        if state in (Status.SETTLED, Status.COMPLIANCE, Status.CLOSED, Status.AWARDED, Status.NON_COMPLIANT):
            awarded = state == Status.AWARDED or (state != Status.SETTLED and rng.random() < 0.2)
            share = Decimal(str(rng.choice([1, 1, 1, 0.8, 0.6, 0.5])))
            amount = (claim * share).quantize(Decimal(1).scaleb(-exponent))
            compliance = {
                Status.SETTLED: ComplianceStatus.DUE,
                Status.AWARDED: ComplianceStatus.DUE,
                Status.COMPLIANCE: ComplianceStatus.REPORTED,
                Status.CLOSED: ComplianceStatus.CONFIRMED,
                Status.NON_COMPLIANT: ComplianceStatus.NON_COMPLIANT,
            }[state]
            outcome = {
                "kind": "award" if awarded else "settlement",
                "amount": {"amount": str(amount), "currency": currency},
                "remedy": REMEDY_FOR[category],
                "compliance": compliance,
                "comply_by": (filed + dt.timedelta(days=30)).isoformat().replace("+00:00", "Z"),
            }
            if awarded:
                outcome["decision"] = "granted" if share == 1 else "partly_granted"
            if state == Status.NON_COMPLIANT:
                outcome["non_compliant_at"] = closed.isoformat()
                closed = None
        facts = self._facts(rng, state, filed, closed, outcome, now)
        return Case(
            id=uuid.UUID(int=rng.getrandbits(128), version=4),
            status=state,
            consumer_id=consumer_id,
            merchant_id=shop.pk,
            consumer_country=consumer_country,
            merchant_country=shop.country,
            category=category,
            remedy=REMEDY_FOR[category],
            description="Bulk case for statistics and benchmarks.",
            language=language,
            order_reference=f"B-{rng.randrange(10**9):09d}",
            order_date=(created - dt.timedelta(days=rng.randint(3, 60))).date(),
            order_platform="BulkMarket",
            order_product=rng.choice(PRODUCTS),
            order_price_amount=claim,
            order_price_currency=currency,
            claim_amount=claim,
            claim_currency=currency,
            response_position="" if state in (Status.DRAFT, Status.FILED, Status.DEFAULTED) else "contest",
            outcome=outcome,
            created_at=created,
            updated_at=closed or filed or created,
            filed_at=filed,
            closed_at=closed,
            **facts,
        )

    #: Where disputes that ended, ended: (stage, weight).
    _stages = _Weighted(
        [("filed", 10), ("jurisdiction", 5), ("negotiation", 45), ("mediation", 25), ("arbitration", 15)]
    )

    def _facts(self, rng, state, filed, closed, outcome, now) -> dict:
        """The statistics' facts a real case would have stamped on its way (``Case.stats_stamp``)."""
        if filed is None:
            return {}
        facts = {}
        if state not in (Status.FILED, Status.DEFAULTED) and not (state == Status.ARBITRATION and rng.random() < 0.1):
            responded = min(now, filed + dt.timedelta(hours=rng.lognormvariate(3.4, 0.9)))  # median ~30 h
            facts.update(responded_at=responded, response_hours=int((responded - filed).total_seconds() // 3600))
        else:
            facts["defaulted"] = state != Status.FILED
        ended = None
        if outcome is not None or state in (Status.WITHDRAWN, Status.REJECTED):
            kind = (outcome or {}).get("kind")
            resolution = {"award": "awarded", "settlement": "settled"}.get(kind, str(state))
            ended = closed or min(now, filed + dt.timedelta(days=rng.lognormvariate(2.7, 0.6)))
            ended = min(ended, closed) if closed else ended
            stage = "arbitration" if kind == "award" else self._stages.pick(rng)[0]
            if stage == "arbitration" and kind == "settlement":
                stage = "mediation"
            facts.update(
                resolved_at=ended,
                resolved_in=stage,
                resolution=resolution,
                resolution_days=int((ended - filed).total_seconds() // 86400),
            )
        if state in (Status.CLOSED, Status.WITHDRAWN, Status.REJECTED) and closed is not None:
            facts["close_days"] = int((closed - filed).total_seconds() // 86400)
        return facts

    def _references(self, rows):
        """Give each row the next ``ODR-<year>-<n>`` of its filing year, under the counters' row locks."""
        by_year = {}
        for row in rows:
            by_year.setdefault((row.filed_at or row.created_at).year, []).append(row)
        for year, cases in sorted(by_year.items()):
            counter, _created = ReferenceCounter.objects.select_for_update().get_or_create(year=year)
            for case in cases:
                counter.last += 1
                case.reference = f"ODR-{year}-{counter.last:06d}"
            counter.save(update_fields=["last"])
