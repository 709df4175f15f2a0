"""Rules and statements several rule sets share: domestic disputes, the Hague and Vienna conventions,
and the wording of conclusions that many legal systems reach alike (each rule set cites its own law)."""

from django.utils.translation import gettext_lazy as _

from . import conditions as c
from .rules import ALWAYS, CONSUMER, forum, law, note

# --- statements shared by several rule sets (each cites its own source) --------------------------
ODR_AFTER_DISPUTE = _(
    "Both parties agreed, after the dispute arose, to have it decided by this platform's procedure; "
    "an agreement made then binds the consumer."
)
FORUM_CHOSEN_AFTER_DISPUTE = _(
    "The parties chose the courts of %(chosen_forum)s after the dispute arose; such an agreement binds the consumer."
)
FORUM_CLAUSE_ADDS = _(
    "The forum clause lets the consumer sue in %(chosen_forum)s as well; it takes nothing away, so the consumer "
    "may still sue at home in %(consumer)s."
)
FORUM_CLAUSE_ADDS_MERCHANT = _(
    "The forum clause adds the courts of %(chosen_forum)s without taking any away: those courts are proposed, "
    "and the merchant's own courts in %(merchant)s remain open."
)
FORUM_CONSUMER_HOME = _(
    "The merchant directed its activity to %(consumer)s, so the consumer may sue there, in their own courts, "
    "wherever the merchant is established."
)
FORUM_CLAUSE_NOT_BINDING = _(
    "The forum clause, agreed before the dispute arose, would take away the consumer's own courts, so it does "
    "not bind the consumer."
)
LAW_CHOSEN_WITH_PROTECTION = _(
    "The parties chose the law of %(chosen_law)s, and that choice applies, but it cannot deprive the consumer of the "
    "protection of the mandatory rules of the law of %(consumer)s."
)
LAW_CONSUMER_DIRECTED = _(
    "The merchant directed its activity to %(consumer)s, where the consumer lives, so the law of %(consumer)s "
    "governs the contract."
)
LAW_CHOSEN_NOT_DIRECTED = _(
    "The consumer rules do not apply because the merchant did not direct its activity to %(consumer)s; the law "
    "the parties chose, %(chosen_law)s, governs."
)
LAW_SELLER_SERVICES = _(
    "Without a choice, a contract for services is governed by the law of the provider's habitual residence, "
    "%(merchant)s."
)
LAW_SELLER_GOODS = _(
    "Without a choice, a sale of goods or digital content is governed by the law of the seller's habitual "
    "residence, %(merchant)s."
)
#: The mandatory protection a chosen law leaves in place (``mandatory_protection`` entries).
PROTECTION_RETAINED = _("The mandatory consumer protection of the law of %(consumer)s is retained.")

DOMESTIC_FORUM = forum(
    "domestic.forum",
    "",
    _("Both parties are in %(consumer)s: the dispute is not cross-border, and its courts hear it under its own rules."),
    when=c.domestic,
    then=CONSUMER,
)
DOMESTIC_LAW = law(
    "domestic.law",
    "",
    _("Both parties are in %(consumer)s: the contract has no foreign element, so the law of %(consumer)s governs it."),
    when=c.domestic,
    then=CONSUMER,
)
HAGUE_2005 = note(
    "hague.2005.2.1.a",
    "Hague Convention of 30 June 2005 on Choice of Court Agreements, art. 2(1)(a)",
    _(
        "The Hague Choice of Court Convention does not apply to consumer contracts, so it does not make the "
        "forum clause binding."
    ),
    when=c.forum_chosen,
)
CISG = note(
    "cisg.2.a",
    "United Nations Convention on Contracts for the International Sale of Goods (1980), art. 2(a)",
    _("The UN Convention on the International Sale of Goods does not apply to goods bought for personal use."),
    when=~c.domestic & c.goods,
)
NOTES = (HAGUE_2005, CISG)

#: The platform's own rule for a proposal nobody contested in time (not part of any rule set).
NO_OBJECTION = note(
    "odr.no_objection",
    "",
    _("Neither party contested the proposal within the period, so it stands."),
    when=ALWAYS,
)
