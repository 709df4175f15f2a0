"""European Union and EEA consumers: Brussels Ia (Regulation (EU) No 1215/2012) arts. 17-19 for the forum,
Rome I (Regulation (EC) No 593/2008) arts. 3, 4 and 6 for the law."""

from django.utils.translation import gettext_lazy as _

from . import common as k
from . import conditions as c
from .facts import EU_EEA
from .rules import ALWAYS, CHOSEN_FORUM, CHOSEN_LAW, CONSUMER, MERCHANT, ODR, RuleSet, forum, law, note

BIA = "Regulation (EU) No 1215/2012 (Brussels Ia)"
PAMMER = "CJEU, Joined Cases C-585/08 and C-144/09, Pammer and Hotel Alpenhof, EU:C:2010:740"


def rome_i(prefix: str, instrument: str) -> tuple:
    """The law rules of Rome I, shared by the EU and the United Kingdom (which kept Rome I in its law)."""
    return (
        law(
            f"{prefix}.3.3",
            f"{instrument}, art. 3(3)",
            _(
                "Everything about the contract is in %(consumer)s: the parties chose the law of %(chosen_law)s, "
                "but that cannot set aside the mandatory rules of the law of %(consumer)s."
            ),
            when=c.domestic & c.law_chosen & ~c.chosen_law_is_consumers,
            then=CHOSEN_LAW,
            protect=CONSUMER,
        ),
        law(f"{prefix}.1.1", f"{instrument}, art. 1(1)", k.DOMESTIC_LAW.statement, when=c.domestic, then=CONSUMER),
        law(
            f"{prefix}.6.2",
            f"{instrument}, art. 6(2)",
            k.LAW_CHOSEN_WITH_PROTECTION,
            when=c.directed & c.law_chosen,
            then=CHOSEN_LAW,
            protect=CONSUMER,
        ),
        law(f"{prefix}.6.1", f"{instrument}, art. 6(1)(b)", k.LAW_CONSUMER_DIRECTED, when=c.directed, then=CONSUMER),
        law(f"{prefix}.3.1", f"{instrument}, art. 3(1)", k.LAW_CHOSEN_NOT_DIRECTED, when=c.law_chosen, then=CHOSEN_LAW),
        law(f"{prefix}.4.1.b", f"{instrument}, art. 4(1)(b)", k.LAW_SELLER_SERVICES, when=c.services, then=MERCHANT),
        law(f"{prefix}.4.1.a", f"{instrument}, art. 4(1)(a) and (2)", k.LAW_SELLER_GOODS, when=ALWAYS, then=MERCHANT),
    )


RULESET = RuleSet(
    id="eu",
    name=_("European Union and EEA"),
    version="2026.11",
    applies_to=lambda country: country in EU_EEA,
    forum=(
        forum(
            "eu.adr.10",
            "Directive 2013/11/EU (ADR Directive), art. 10",
            k.ODR_AFTER_DISPUTE,
            when=c.odr_chosen & c.forum_after_dispute,
            then=ODR,
        ),
        forum(
            "eu.bia.19.1",
            f"{BIA}, art. 19(1); CJEU, Case C-566/22 Inkreal (2024)",
            k.FORUM_CHOSEN_AFTER_DISPUTE,
            when=c.forum_chosen & c.forum_after_dispute & ~c.adds_forum,
            then=CHOSEN_FORUM,
        ),
        forum("eu.bia.4.1.domestic", f"{BIA}, art. 4(1)", k.DOMESTIC_FORUM.statement, when=c.domestic, then=CONSUMER),
        forum(
            "eu.bia.19.2",
            f"{BIA}, art. 19(2)",
            k.FORUM_CLAUSE_ADDS,
            when=c.forum_chosen & c.adds_forum & c.directed,
            then=CONSUMER,
            also=(CHOSEN_FORUM, MERCHANT),
        ),
        forum(
            "eu.bia.18.1",
            f"{BIA}, arts. 17(1)(c) and 18(1)",
            k.FORUM_CONSUMER_HOME,
            when=c.directed,
            then=CONSUMER,
            also=(MERCHANT,),
        ),
        forum(
            "eu.bia.25.1",
            f"{BIA}, art. 25(1)",
            _(
                "The merchant did not direct its activity to %(consumer)s, so the consumer rules do not apply and "
                "the agreed courts of %(chosen_forum)s have jurisdiction."
            ),
            when=c.forum_chosen & c.chosen_forum_in_eu & ~c.adds_forum,
            then=CHOSEN_FORUM,
        ),
        forum(
            "eu.bia.25.4",
            f"{BIA}, arts. 4(1) and 25(1)",
            k.FORUM_CLAUSE_ADDS_MERCHANT,
            when=c.forum_chosen & c.adds_forum,
            then=CHOSEN_FORUM,
            also=(MERCHANT,),
        ),
        forum(
            "eu.bia.6.1.clause",
            f"{BIA}, art. 6(1)",
            _(
                "The agreed courts, in %(chosen_forum)s, are outside the EU: whether the clause holds is for the "
                "national law of the court seised. Those courts are proposed; the merchant's own remain open."
            ),
            when=c.forum_chosen,
            then=CHOSEN_FORUM,
            also=(MERCHANT,),
        ),
        forum(
            "eu.bia.4.1",
            f"{BIA}, arts. 4(1) and 7(1)(b)",
            _(
                "The merchant did not direct its activity to %(consumer)s, so the consumer rules do not apply: the "
                "merchant is sued where it is domiciled, %(merchant)s; for goods, the courts of the place of "
                "delivery are open too."
            ),
            when=c.merchant_in_eu,
            then=MERCHANT,
            also=(CONSUMER,),
        ),
        forum(
            "eu.bia.6.1",
            f"{BIA}, art. 6(1)",
            _(
                "The merchant is established outside the EU and did not direct its activity to %(consumer)s: the "
                "national law of the consumer's courts decides whether they may hear the case, so the merchant's "
                "own courts, in %(merchant)s, are proposed."
            ),
            when=ALWAYS,
            then=MERCHANT,
        ),
    ),
    law=rome_i("eu.rome1", "Regulation (EC) No 593/2008 (Rome I)"),
    notes=(
        note(
            "eu.bia.19.clause",
            f"{BIA}, art. 19",
            k.FORUM_CLAUSE_NOT_BINDING,
            when=c.forum_chosen & ~c.forum_after_dispute & ~c.adds_forum & c.directed & ~c.chosen_forum_is_consumers,
        ),
        note(
            "eu.adr.10.1",
            "Directive 2013/11/EU (ADR Directive), art. 10(1)",
            _(
                "An agreement made before the dispute arose to bring complaints to this platform instead of the "
                "courts does not bind the consumer, who keeps the courts proposed here."
            ),
            when=c.odr_chosen & ~c.forum_after_dispute,
        ),
        note(
            "eu.pammer",
            PAMMER,
            _("The merchant directed its activity to %(consumer)s: %(indicators)s."),
            when=c.directed & c.has_indicators,
        ),
        note(
            "eu.escp",
            "Regulation (EC) No 861/2007, art. 2(1), as amended by Regulation (EU) 2015/2421",
            _(
                "A claim of up to EUR 5,000 between parties in different Member States may also go through the "
                "European Small Claims Procedure, in writing and without a lawyer."
            ),
            when=~c.domestic & c.in_escp_states & c.claim_at_most("5000", "EUR"),
        ),
        note(
            "eu.eea",
            "Lugano Convention of 30 October 2007, arts. 15-17",
            _(
                "The consumer lives in an EEA state outside the EU, where the Lugano Convention (for Iceland and "
                "Norway) and national choice-of-law rules take the place of Brussels Ia and Rome I; they lead to "
                "similar results, but check them."
            ),
            when=c.consumer_in_eea_efta,
        ),
        note(
            "eu.rome1.dk",
            "Rome I, recital 46; Rome Convention of 19 June 1980, art. 5",
            _(
                "Denmark is not bound by Rome I; it applies the Rome Convention of 1980, whose art. 5 protects "
                "consumers in much the same way."
            ),
            when=c.consumer_in_denmark,
        ),
        *k.NOTES,
    ),
    caveat=_(
        "Not covered: contracts of transport, insurance and immovable property, package travel, and the Member "
        "States' own procedural rules."
    ),
)
