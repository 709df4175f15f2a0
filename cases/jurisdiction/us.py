"""Consumers in the United States: the Restatement (Second) of Conflict of Laws ss. 187, 188 and 191 for the
law; the Supreme Court's case law on forum clauses, arbitration agreements and personal jurisdiction."""

from django.utils.translation import gettext_lazy as _

from . import common as k
from . import conditions as c
from .rules import ALWAYS, CHOSEN_FORUM, CHOSEN_LAW, CONSUMER, MERCHANT, ODR, RuleSet, forum, law, note

R2D = "Restatement (Second) of Conflict of Laws"

RULESET = RuleSet(
    id="us",
    name=_("United States"),
    version="2026.11",
    applies_to=lambda country: country == "US",
    forum=(
        forum(
            "us.faa.2",
            "Federal Arbitration Act, 9 U.S.C. § 2; AT&T Mobility LLC v. Concepcion, 563 U.S. 333 (2011)",
            _(
                "The parties agreed to resolve their disputes through this platform's procedure; US law enforces "
                "such an agreement even when it was made before the dispute arose."
            ),
            when=c.odr_chosen,
            then=ODR,
        ),
        k.DOMESTIC_FORUM,
        forum(
            "us.forum_clause",
            "Carnival Cruise Lines, Inc. v. Shute, 499 U.S. 585 (1991); M/S Bremen v. Zapata Off-Shore Co., "
            "407 U.S. 1 (1972)",
            _(
                "US courts generally enforce a forum clause in a consumer contract, even in standard terms, unless "
                "it is unreasonable: the agreed courts of %(chosen_forum)s are proposed."
            ),
            when=c.forum_chosen & ~c.adds_forum,
            then=CHOSEN_FORUM,
        ),
        forum(
            "us.forum_clause.permissive.directed",
            f"{R2D} § 80",
            k.FORUM_CLAUSE_ADDS,
            when=c.forum_chosen & c.adds_forum & c.directed,
            then=CONSUMER,
            also=(CHOSEN_FORUM, MERCHANT),
        ),
        forum(
            "us.forum_clause.permissive",
            f"{R2D} § 80",
            k.FORUM_CLAUSE_ADDS_MERCHANT,
            when=c.forum_chosen & c.adds_forum,
            then=CHOSEN_FORUM,
            also=(MERCHANT,),
        ),
        forum(
            "us.personal_jurisdiction.directed",
            "Ford Motor Co. v. Montana Eighth Judicial District Court, 592 U.S. 351 (2021)",
            _(
                "The merchant purposefully directed its business to the consumer's state, so the courts there may "
                "hear a claim arising from it: the consumer may sue at home, in %(consumer)s."
            ),
            when=c.directed,
            then=CONSUMER,
            also=(MERCHANT,),
        ),
        forum(
            "us.personal_jurisdiction",
            "International Shoe Co. v. Washington, 326 U.S. 310 (1945)",
            _(
                "The merchant did not direct its business to %(consumer)s, so US courts may lack personal "
                "jurisdiction over it: it is sued where it is established, %(merchant)s."
            ),
            when=ALWAYS,
            then=MERCHANT,
        ),
    ),
    law=(
        k.DOMESTIC_LAW,
        law(
            "us.r2d.187.2.b",
            f"{R2D} § 187(2)(b)",
            _(
                "The chosen law, %(chosen_law)s, applies, but not against a fundamental policy of the consumer's "
                "state, such as its consumer protection statutes."
            ),
            when=c.law_chosen & c.chosen_law_connected & c.directed,
            then=CHOSEN_LAW,
            protect=CONSUMER,
        ),
        law(
            "us.r2d.187",
            f"{R2D} § 187",
            _("The chosen law, %(chosen_law)s, has a substantial relationship to the parties and applies."),
            when=c.law_chosen & c.chosen_law_connected,
            then=CHOSEN_LAW,
        ),
        law(
            "us.r2d.191",
            f"{R2D} §§ 188 and 191",
            _(
                "Without an effective choice, a sale of goods is governed by the law of the place where the seller "
                "is to deliver them, %(consumer)s."
            ),
            when=c.directed & c.goods,
            then=CONSUMER,
        ),
        law(
            "us.r2d.188",
            f"{R2D} § 188",
            _(
                "Without an effective choice, the law of the place with the most significant relationship to the "
                "contract applies: the merchant's, %(merchant)s."
            ),
            when=ALWAYS,
            then=MERCHANT,
        ),
    ),
    notes=(
        note(
            "us.r2d.187.2.a",
            f"{R2D} § 187(2)(a)",
            _(
                "The chosen law, %(chosen_law)s, has no substantial relationship to the parties or the transaction, "
                "so the choice is disregarded."
            ),
            when=c.law_chosen & ~c.chosen_law_connected,
        ),
        *k.NOTES,
    ),
    caveat=_("State laws differ; the Restatement's approach is followed by many states but not all."),
)
