"""The facts the engine reasons from, and the named conditions the rule sets test them with."""

from dataclasses import dataclass
from decimal import Decimal

from django.utils.translation import gettext_lazy as _

#: The member states of the European Union.
EU = frozenset(
    [
        "AT",
        "BE",
        "BG",
        "CY",
        "CZ",
        "DE",
        "DK",
        "EE",
        "ES",
        "FI",
        "FR",
        "GR",
        "HR",
        "HU",
        "IE",
        "IT",
        "LT",
        "LU",
        "LV",
        "MT",
        "NL",
        "PL",
        "PT",
        "RO",
        "SE",
        "SI",
        "SK",
    ]
)
#: The EEA states outside the EU.
EEA_EFTA = frozenset({"IS", "LI", "NO"})
EU_EEA = EU | EEA_EFTA


class Indicator:
    """What shows that a merchant directed its activity to the consumer's country (CJEU, Pammer)."""

    DELIVERS = "delivers_to_consumer_country"
    LANGUAGE = "consumer_language"
    CURRENCY = "consumer_currency"
    SITE = "site_aimed_at_consumer_country"

    choices = [
        (DELIVERS, _("ships to the consumer's country")),
        (LANGUAGE, _("sells in the consumer's language")),
        (CURRENCY, _("prices in the consumer's currency")),
        (SITE, _("a site or advertising aimed at the consumer's country")),
    ]
    values = [value for value, _label in choices]


class Contract:
    GOODS = "goods"
    SERVICES = "services"
    DIGITAL = "digital_content"

    choices = [
        (GOODS, _("Sale of goods")),
        (SERVICES, _("Services")),
        (DIGITAL, _("Digital content")),
    ]


@dataclass(frozen=True)
class Facts:
    """What the engine knows of a dispute. Country codes are ISO 3166-1 alpha-2, upper case.

    ``chosen_forum`` is a country or ``"odr"`` (both parties agreed to this platform's procedure);
    ``forum_chosen_after_dispute`` and ``law_chosen_after_dispute`` say a choice was made after the
    dispute arose rather than in the contract (the API takes one flag for both; a case may differ: an
    agreement to use this platform made during the case beside a choice of law in the contract);
    ``forum_clause_exclusive`` is False when the clause adds a forum rather than taking the others away.
    Validation (the API's input serializer) guarantees the facts are consistent.
    """

    consumer_country: str
    merchant_country: str
    directed: bool
    indicators: tuple[str, ...] = ()
    chosen_law: str | None = None
    chosen_forum: str | None = None
    forum_chosen_after_dispute: bool = False
    law_chosen_after_dispute: bool = False
    forum_clause_exclusive: bool = True
    contract: str = Contract.GOODS
    claim_amount: Decimal | None = None
    claim_currency: str | None = None

    def as_dict(self) -> dict:
        return {
            "consumer_country": self.consumer_country,
            "merchant_country": self.merchant_country,
            "directed_to_consumer_country": self.directed,
            "directing_indicators": list(self.indicators),
            "chosen_law": self.chosen_law,
            "chosen_forum": self.chosen_forum,
            "forum_chosen_after_dispute": self.forum_chosen_after_dispute,
            "law_chosen_after_dispute": self.law_chosen_after_dispute,
            "forum_clause_exclusive": self.forum_clause_exclusive,
            "contract": self.contract,
            "claim": (
                {"amount": str(self.claim_amount), "currency": self.claim_currency}
                if self.claim_amount is not None
                else None
            ),
        }

    @classmethod
    def from_dict(cls, data: dict) -> "Facts":
        claim = data.get("claim") or None
        return cls(
            consumer_country=data["consumer_country"],
            merchant_country=data["merchant_country"],
            directed=bool(data.get("directed_to_consumer_country")),
            indicators=tuple(data.get("directing_indicators") or ()),
            chosen_law=data.get("chosen_law") or None,
            chosen_forum=data.get("chosen_forum") or None,
            forum_chosen_after_dispute=bool(data.get("forum_chosen_after_dispute")),
            law_chosen_after_dispute=bool(data.get("law_chosen_after_dispute")),
            forum_clause_exclusive=data.get("forum_clause_exclusive", True) is not False,
            contract=data.get("contract") or Contract.GOODS,
            claim_amount=Decimal(claim["amount"]) if claim else None,
            claim_currency=claim["currency"] if claim else None,
        )
