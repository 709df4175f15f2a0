"""The named conditions the rule sets test the facts with; each reads as it is meant in the rule table."""

from decimal import Decimal

from .facts import EEA_EFTA, EU, EU_EEA, Contract
from .rules import Condition

domestic = Condition("both parties in one country", lambda f: f.consumer_country == f.merchant_country)
directed = Condition("activity directed to the consumer's country", lambda f: f.directed)
law_chosen = Condition("a law was chosen", lambda f: f.chosen_law is not None)
forum_chosen = Condition("a court was chosen", lambda f: f.chosen_forum not in (None, "odr"))
odr_chosen = Condition("both agreed to this platform's procedure", lambda f: f.chosen_forum == "odr")
forum_after_dispute = Condition("the forum was chosen after the dispute arose", lambda f: f.forum_chosen_after_dispute)
law_after_dispute = Condition("the law was chosen after the dispute arose", lambda f: f.law_chosen_after_dispute)
adds_forum = Condition("the forum clause adds a forum", lambda f: not f.forum_clause_exclusive)
chosen_law_connected = Condition(
    "the chosen law is a party's", lambda f: f.chosen_law in (f.consumer_country, f.merchant_country)
)
chose_merchant_law = Condition("the merchant's law was chosen", lambda f: f.chosen_law == f.merchant_country)
services = Condition("a contract for services", lambda f: f.contract == Contract.SERVICES)
goods = Condition("a sale of goods", lambda f: f.contract == Contract.GOODS)
merchant_in_eu = Condition("the merchant is in the EU or EEA", lambda f: f.merchant_country in EU_EEA)
chosen_forum_in_eu = Condition("the chosen court is in the EU or EEA", lambda f: f.chosen_forum in EU_EEA)
consumer_in_eea_efta = Condition(
    "the consumer lives in Iceland, Liechtenstein or Norway", lambda f: f.consumer_country in EEA_EFTA
)
consumer_in_denmark = Condition("the consumer lives in Denmark", lambda f: f.consumer_country == "DK")
has_indicators = Condition("directing indicators were given", lambda f: bool(f.indicators))


def claim_at_most(amount: str, currency: str) -> Condition:
    limit = Decimal(amount)
    return Condition(
        f"a claim of at most {currency} {amount}",
        lambda f: f.claim_currency == currency and f.claim_amount is not None and f.claim_amount <= limit,
    )


chosen_forum_is_consumers = Condition(
    "the chosen court is the consumer's", lambda f: f.chosen_forum == f.consumer_country
)
chosen_law_is_consumers = Condition("the consumer's law was chosen", lambda f: f.chosen_law == f.consumer_country)
#: The European Small Claims Procedure binds the EU Member States except Denmark (Reg. 861/2007 art. 2(3)).
in_escp_states = Condition(
    "both parties in EU Member States bound by the Small Claims Regulation",
    lambda f: {f.consumer_country, f.merchant_country} <= (EU - {"DK"}),
)
