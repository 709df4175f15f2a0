"""Every other consumer: general principles of private international law, party autonomy first, otherwise the
closest connection, with the consumer's mandatory rules kept as most systems keep them."""

from django.utils.translation import gettext_lazy as _

from . import common as k
from . import conditions as c
from .rules import ALWAYS, CHOSEN_FORUM, CHOSEN_LAW, CONSUMER, MERCHANT, ODR, RuleSet, forum, law, note

AUTONOMY = "General principle of party autonomy"

RULESET = RuleSet(
    id="general",
    name=_("General principles"),
    version="2026.11",
    applies_to=lambda country: True,
    forum=(
        forum(
            "general.odr",
            "New York Convention on the Recognition and Enforcement of Foreign Arbitral Awards (1958), art. II",
            k.ODR_AFTER_DISPUTE,
            when=c.odr_chosen & c.forum_after_dispute,
            then=ODR,
        ),
        k.DOMESTIC_FORUM,
        forum(
            "general.forum.after",
            AUTONOMY,
            k.FORUM_CHOSEN_AFTER_DISPUTE,
            when=c.forum_chosen & c.forum_after_dispute & ~c.adds_forum,
            then=CHOSEN_FORUM,
        ),
        forum(
            "general.forum.adds",
            AUTONOMY,
            k.FORUM_CLAUSE_ADDS,
            when=c.forum_chosen & c.adds_forum & c.directed,
            then=CONSUMER,
            also=(CHOSEN_FORUM, MERCHANT),
        ),
        forum(
            "general.forum.consumer",
            "A rule shared by many systems, e.g. Japan, Code of Civil Procedure, art. 3-4(1)",
            _(
                "Many legal systems let a consumer sue a merchant that aimed its business at their country in "
                "their own courts: the courts of %(consumer)s are proposed, and the merchant's remain open."
            ),
            when=c.directed,
            then=CONSUMER,
            also=(MERCHANT,),
        ),
        forum(
            "general.forum.clause",
            AUTONOMY,
            _(
                "The agreed courts of %(chosen_forum)s are proposed; the consumer's own law may limit forum "
                "clauses in consumer contracts."
            ),
            when=c.forum_chosen,
            then=CHOSEN_FORUM,
            also=(MERCHANT,),
        ),
        forum(
            "general.forum.defendant",
            "General principle: actor sequitur forum rei",
            _("The defendant is sued where it is established: the courts of %(merchant)s."),
            when=ALWAYS,
            then=MERCHANT,
        ),
    ),
    law=(
        k.DOMESTIC_LAW,
        law(
            "general.law.chosen.protected",
            "Party autonomy with the consumer's mandatory rules kept, e.g. Japan, Act on General Rules for "
            "Application of Laws, art. 11(1)",
            k.LAW_CHOSEN_WITH_PROTECTION,
            when=c.law_chosen & c.directed,
            then=CHOSEN_LAW,
            protect=CONSUMER,
        ),
        law(
            "general.law.chosen",
            AUTONOMY,
            _("The law the parties chose, %(chosen_law)s, governs the contract."),
            when=c.law_chosen,
            then=CHOSEN_LAW,
        ),
        law(
            "general.law.consumer",
            "A rule shared by many systems, e.g. Japan, Act on General Rules for Application of Laws, art. 11(2); "
            "Republic of Korea, Act on Private International Law, art. 47",
            k.LAW_CONSUMER_DIRECTED,
            when=c.directed,
            then=CONSUMER,
        ),
        law(
            "general.law.closest",
            "General principle of the closest connection (characteristic performance)",
            _(
                "Without a choice, the contract is governed by the law most closely connected with it: the "
                "seller's, whose performance characterises the contract, in %(merchant)s."
            ),
            when=ALWAYS,
            then=MERCHANT,
        ),
    ),
    notes=(
        note(
            "general.caveat",
            "",
            _(
                "The engine has no rules of %(consumer)s yet: these general principles are a starting point, and "
                "the law of %(consumer)s may protect the consumer more."
            ),
            when=~c.domestic,
        ),
        *k.NOTES,
    ),
)
