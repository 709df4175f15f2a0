"""The jurisdiction stage of a case: the facts the parties gave, turned into the engine's proposal."""

from decimal import Decimal

from babel.numbers import get_territory_currencies

from ..jurisdiction import Contract, Facts, Indicator, evaluate
from ..models import Case
from ..money import Money

#: What the merchant may plead in its response (``RespondInput``) and the case keeps.
PLEADING_FIELDS = ("chosen_law", "chosen_forum", "choice_made_after_dispute", "forum_clause_exclusive")


def _currencies(country: str) -> set[str]:
    try:
        return set(get_territory_currencies(country))
    except Exception:  # noqa: BLE001 -- an unknown territory simply has no currency to compare
        return set()


def derived_indicators(case: Case) -> list[str]:
    """Indicators the platform sees for itself: the order priced in the consumer's currency, which is not
    the merchant's (CJEU, Pammer: a currency other than the one used where the trader is established)."""
    consumer, merchant = _currencies(case.consumer_country.code), _currencies(case.merchant_country.code)
    if case.order_price_currency in consumer and case.order_price_currency not in merchant:
        return [Indicator.CURRENCY]
    return []


def facts_for_case(case: Case) -> Facts:
    """The engine's facts from the case, the consumer's answers at filing and the merchant's pleading."""
    said = case.jurisdiction_facts or {}
    indicators = list(dict.fromkeys([*said.get("directing_indicators", []), *derived_indicators(case)]))
    both_chose_odr = bool(said.get("consumer_odr_agreement") and said.get("merchant_odr_agreement"))
    after = bool(said.get("choice_made_after_dispute"))
    pleaded_forum = said.get("chosen_forum") or None
    # A pleaded "odr" is the contract's clause: only both parties' odr_agreement during the case makes
    # an agreement to this platform made after the dispute arose.
    forum_after = True if both_chose_odr else (after and pleaded_forum != "odr")
    claim = Money(case.claim_amount, case.claim_currency).as_dict()
    return Facts(
        consumer_country=case.consumer_country.code,
        merchant_country=case.merchant_country.code,
        directed=bool(indicators),
        indicators=tuple(indicators),
        chosen_law=said.get("chosen_law") or None,
        # Agreeing during the case to this platform's procedure is a choice made after the dispute arose;
        # it takes the place of any forum clause the contract had.
        chosen_forum="odr" if both_chose_odr else pleaded_forum,
        forum_chosen_after_dispute=forum_after,
        law_chosen_after_dispute=after,
        forum_clause_exclusive=True if both_chose_odr else said.get("forum_clause_exclusive", True) is not False,
        contract=said.get("contract") or Contract.GOODS,
        claim_amount=Decimal(claim["amount"]),
        claim_currency=claim["currency"],
    )


def proposal_for_case(case: Case) -> dict:
    return evaluate(facts_for_case(case)).record()
