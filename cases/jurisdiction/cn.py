"""Consumers in China: the Law on the Application of Laws to Foreign-related Civil Relations (2010) arts. 41
and 42 for the law; the Civil Procedure Law (as amended 2023) and the Supreme People's Court's
Interpretation of it (2022) for the forum in foreign-related contract disputes."""

from django.utils.translation import gettext_lazy as _

from . import common as k
from . import conditions as c
from .rules import ALWAYS, CHOSEN_FORUM, CONSUMER, MERCHANT, ODR, RuleSet, forum, law, note

LAL = "Law of the PRC on the Application of Laws to Foreign-related Civil Relations"
CPL = "Civil Procedure Law of the PRC (2023)"
SPC = "SPC Interpretation on the Application of the Civil Procedure Law (2022)"

RULESET = RuleSet(
    id="cn",
    name=_("China"),
    version="2026.11",
    applies_to=lambda country: country == "CN",
    forum=(
        forum(
            "cn.arbitration.16",
            "Arbitration Law of the PRC, art. 16",
            k.ODR_AFTER_DISPUTE,
            when=c.odr_chosen & c.forum_after_dispute,
            then=ODR,
        ),
        forum("cn.cpl.24.domestic", f"{CPL}, art. 24", k.DOMESTIC_FORUM.statement, when=c.domestic, then=CONSUMER),
        forum(
            "cn.spc.529.after",
            f"{CPL}, art. 35; {SPC}, art. 529",
            k.FORUM_CHOSEN_AFTER_DISPUTE,
            when=c.forum_chosen & c.forum_after_dispute & ~c.adds_forum,
            then=CHOSEN_FORUM,
        ),
        forum(
            "cn.spc.529.adds",
            f"{SPC}, art. 529; {CPL}, art. 276",
            k.FORUM_CLAUSE_ADDS,
            when=c.forum_chosen & c.adds_forum & c.directed,
            then=CONSUMER,
            also=(CHOSEN_FORUM, MERCHANT),
        ),
        forum(
            "cn.cpl.276",
            f"{CPL}, art. 276; {SPC}, art. 20",
            _(
                "The merchant did business in China and the contract was performed there (for an online sale, "
                "where the buyer receives the goods), so the Chinese courts have jurisdiction over the foreign "
                "merchant."
            ),
            when=c.directed,
            then=CONSUMER,
            also=(MERCHANT,),
        ),
        forum(
            "cn.spc.529",
            f"{SPC}, art. 529",
            _(
                "The merchant had no business in China; the written agreement choosing the courts of "
                "%(chosen_forum)s is respected."
            ),
            when=c.forum_chosen,
            then=CHOSEN_FORUM,
            also=(MERCHANT,),
        ),
        forum(
            "cn.cpl.22",
            f"{CPL}, art. 22 (by analogy)",
            _("The merchant had no business in China: it is sued where it is established, in %(merchant)s."),
            when=ALWAYS,
            then=MERCHANT,
        ),
    ),
    law=(
        k.DOMESTIC_LAW,
        law(
            "cn.lal.42.chosen",
            f"{LAL}, art. 42",
            _("The consumer chose the law of the place of supply, %(merchant)s, as art. 42 allows."),
            when=c.chose_merchant_law & c.law_after_dispute,
            then=MERCHANT,
        ),
        law(
            "cn.lal.42.no_activity",
            f"{LAL}, art. 42",
            _(
                "The merchant had no business activity in %(consumer)s, so the law of the place of supply, "
                "%(merchant)s, governs."
            ),
            when=~c.directed,
            then=MERCHANT,
        ),
        law(
            "cn.lal.42",
            f"{LAL}, art. 42",
            _("A consumer contract is governed by the law of the consumer's habitual residence, %(consumer)s."),
            when=ALWAYS,
            then=CONSUMER,
        ),
    ),
    notes=(
        note(
            "cn.lal.41",
            f"{LAL}, arts. 41 and 42",
            _(
                "The contract's choice of the law of %(chosen_law)s does not displace art. 42: the free choice "
                "of art. 41 gives way to the rule for consumer contracts, under which only the consumer "
                "chooses, and only the law of the place of supply."
            ),
            when=c.law_chosen & ~(c.chose_merchant_law & c.law_after_dispute),
        ),
        note(
            "cn.cpl.odr.prior",
            "Law of the PRC on the Protection of Consumer Rights and Interests, art. 26",
            _(
                "An agreement in the merchant's standard terms, made before the dispute, to use this platform "
                "instead of the courts cannot take away the consumer's rights; the courts proposed here remain "
                "open."
            ),
            when=c.odr_chosen & ~c.forum_after_dispute,
        ),
        note(
            "cn.spc.31",
            f"{SPC}, art. 31",
            _(
                "A forum clause in the merchant's standard terms is invalid if the merchant did not draw the "
                "consumer's attention to it in a reasonable way; the Chinese courts remain open to the consumer."
            ),
            when=c.forum_chosen & ~c.forum_after_dispute & ~c.adds_forum & c.directed & ~c.chosen_forum_is_consumers,
        ),
        *k.NOTES,
    ),
    caveat=_("Covers the Chinese mainland only, not Hong Kong, Macao or Taiwan."),
)
