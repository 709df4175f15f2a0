"""Consumers in the United Kingdom: the Civil Jurisdiction and Judgments Act 1982 ss. 15A-15E for the forum,
Rome I as kept in UK law for the applicable law."""

from django.utils.translation import gettext_lazy as _

from . import common as k
from . import conditions as c
from .eu import rome_i
from .rules import ALWAYS, CHOSEN_FORUM, CONSUMER, MERCHANT, ODR, RuleSet, forum, note

CJJA = "Civil Jurisdiction and Judgments Act 1982"
CRA = "Consumer Rights Act 2015, s. 62 and Sch. 2 para. 20"

RULESET = RuleSet(
    id="uk",
    name=_("United Kingdom"),
    version="2026.11",
    applies_to=lambda country: country == "GB",
    forum=(
        forum(
            "uk.aa.89",
            "Arbitration Act 1996, ss. 89-91",
            k.ODR_AFTER_DISPUTE,
            when=c.odr_chosen & c.forum_after_dispute,
            then=ODR,
        ),
        forum(
            "uk.cjja.15b.6.after",
            f"{CJJA}, s. 15B(6)",
            k.FORUM_CHOSEN_AFTER_DISPUTE,
            when=c.forum_chosen & c.forum_after_dispute & ~c.adds_forum,
            then=CHOSEN_FORUM,
        ),
        k.DOMESTIC_FORUM,
        forum(
            "uk.cjja.15b.6.adds",
            f"{CJJA}, s. 15B(6)",
            k.FORUM_CLAUSE_ADDS,
            when=c.forum_chosen & c.adds_forum & c.directed,
            then=CONSUMER,
            also=(CHOSEN_FORUM, MERCHANT),
        ),
        forum(
            "uk.cjja.15b.2",
            f"{CJJA}, ss. 15B(2)(b) and 15E(1)",
            k.FORUM_CONSUMER_HOME,
            when=c.directed,
            then=CONSUMER,
            also=(MERCHANT,),
        ),
        forum(
            "uk.cra.62",
            CRA,
            _(
                "The merchant did not direct its activity to the United Kingdom, so ss. 15B-15E do not apply; the "
                "agreed courts of %(chosen_forum)s are proposed, subject to the fairness test for consumer terms."
            ),
            when=c.forum_chosen,
            then=CHOSEN_FORUM,
            also=(MERCHANT,),
        ),
        forum(
            "uk.cpr.6.36",
            "CPR r. 6.36 and Practice Direction 6B",
            _(
                "The merchant did not direct its activity to the United Kingdom: it is sued where it is "
                "established, %(merchant)s; suing it in the UK needs the court's permission to serve it abroad."
            ),
            when=ALWAYS,
            then=MERCHANT,
        ),
    ),
    law=rome_i("uk.rome1", "Regulation (EC) No 593/2008 (Rome I) as retained in UK law"),
    notes=(
        note(
            "uk.cjja.15b.6.clause",
            f"{CJJA}, s. 15B(6)",
            k.FORUM_CLAUSE_NOT_BINDING,
            when=c.forum_chosen & ~c.forum_after_dispute & ~c.adds_forum & c.directed & ~c.chosen_forum_is_consumers,
        ),
        note(
            "uk.aa.91",
            "Arbitration Act 1996, s. 91; Unfair Arbitration Agreements (Specified Amount) Order 1999",
            _(
                "An agreement made before the dispute to arbitrate a claim of £5,000 or less is unfair and does "
                "not bind the consumer."
            ),
            when=c.odr_chosen & ~c.forum_after_dispute & c.claim_at_most("5000", "GBP"),
        ),
        note(
            "uk.cra.62.odr",
            CRA,
            _(
                "An agreement made before the dispute to use this platform's procedure instead of the courts binds "
                "the consumer only if it is fair; the courts proposed here stay open meanwhile."
            ),
            when=c.odr_chosen & ~c.forum_after_dispute,
        ),
        *k.NOTES,
    ),
    caveat=_("The UK's three legal systems (England and Wales, Scotland, Northern Ireland) are not told apart."),
)
