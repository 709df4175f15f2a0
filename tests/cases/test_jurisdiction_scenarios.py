"""The jurisdiction and choice-of-law engine, scenario by scenario, through ``POST /api/v1/jurisdiction/evaluate/``.

Each row states facts and the answer the law gives, written from the rule sets' statements and conditions
(cases/jurisdiction/eu.py, cn.py, uk.py, us.py, general.py) and the instruments they cite -- not from the
engine's output. Where the engine departs from the law it cites, the row keeps the law's answer and is marked
``xfail(strict=True)`` with the reason, so the disagreement stays visible and the suite stays green.

Every row checks the rule set, the applicable law, the proposed forum, the forum options, the countries whose
mandatory consumer protection survives, the rule that decided the forum and the law, notes that must (and
must not) be given, and substrings of the citations.
"""

from dataclasses import dataclass

import pytest

from accounts.models import Role
from tests.factories import user

pytestmark = pytest.mark.django_db

URL = "/api/v1/jurisdiction/evaluate/"

# Directing indicators (CJEU, Pammer): what shows the merchant aimed at the consumer's country.
DELIVERS = "delivers_to_consumer_country"
LANGUAGE = "consumer_language"
CURRENCY = "consumer_currency"
SITE = "site_aimed_at_consumer_country"

# Rule ids of the notes several rule sets share.
HAGUE = "hague.2005.2.1.a"
CISG = "cisg.2.a"


def facts(consumer, merchant, directed=None, *, indicators=None, claim=None, **more) -> dict:
    """An evaluate body: ``directed`` None leaves the flag out (the indicators then say it)."""
    body = {"consumer_country": consumer, "merchant_country": merchant}
    if directed is not None:
        body["directed_to_consumer_country"] = directed
    if indicators:
        body["directing_indicators"] = list(indicators)
    if claim:
        amount, currency = claim
        body["claim"] = {"amount": amount, "currency": currency}
    body.update(more)
    return body


def eur(amount):
    return (amount, "EUR")


def gbp(amount):
    return (amount, "GBP")


@dataclass(frozen=True)
class Scenario:
    id: str
    facts: dict
    ruleset: str
    law: str
    #: The proposed forum (a country or "odr"); None: not checked (a row about the options only).
    forum: str | None
    #: The forum options exactly, in order; None: not checked.
    options: tuple | None = None
    #: Places that must be among the forum options (order aside).
    options_include: tuple = ()
    #: The countries whose mandatory consumer protection survives the chosen law, exactly.
    protect: tuple = ()
    #: The rule that decides the forum (reasons[0]) and the law (reasons[1]); None: not checked.
    forum_rule: str | None = None
    law_rule: str | None = None
    #: Rule ids that must appear among the reasons, and rule ids that must not.
    rules: tuple = ()
    absent: tuple = ()
    #: Substrings each found in some reason's citation.
    cites: tuple = ()
    #: Why the engine departs from the law here (the row then keeps the law's answer and is xfail).
    engine_disagrees: str | None = None


S = Scenario

# --- European Union and EEA: Brussels Ia arts. 4, 6, 17-19, 25; Rome I arts. 3, 4, 6 ----------------------
EU = [
    S(
        "eu/DE-consumer/CN-merchant/directed-by-indicators/no-choice",
        facts("DE", "CN", indicators=[DELIVERS, LANGUAGE], claim=eur("120.00")),
        "eu",
        law="DE",
        forum="DE",
        options=("DE", "CN"),
        forum_rule="eu.bia.18.1",
        law_rule="eu.rome1.6.1",
        rules=("eu.pammer", CISG),
        # ESCP needs a merchant in a Member State; no clause, no choice of law.
        absent=("eu.escp", "eu.rome1.6.2", HAGUE, "eu.bia.19.clause"),
        cites=("arts. 17(1)(c) and 18(1)", "art. 6(1)(b)", "Pammer", "art. 2(a)"),
    ),
    S(
        "eu/DE-CN/directed/CN-law-in-contract/DE-protection-kept",
        facts("DE", "CN", True, chosen_law="CN"),
        "eu",
        law="CN",
        forum="DE",
        options=("DE", "CN"),
        protect=("DE",),
        forum_rule="eu.bia.18.1",
        law_rule="eu.rome1.6.2",
        absent=("eu.rome1.3.1", "eu.rome1.6.1", "eu.pammer"),
        cites=("Rome I), art. 6(2)",),
    ),
    S(
        # Rome I art. 3(2) lets the parties choose later; art. 6(2) still keeps the consumer's protection.
        "eu/DE-CN/directed/CN-law-chosen-after-dispute/DE-protection-kept",
        facts("DE", "CN", True, chosen_law="CN", choice_made_after_dispute=True),
        "eu",
        law="CN",
        forum="DE",
        options=("DE", "CN"),
        protect=("DE",),
        forum_rule="eu.bia.18.1",
        law_rule="eu.rome1.6.2",
        cites=("art. 6(2)",),
    ),
    S(
        "eu/FR-DE/not-directed/no-choice/goods/small-claim",
        facts("FR", "DE", False, claim=eur("300.00")),
        "eu",
        law="DE",
        forum="DE",
        options=("DE", "FR"),
        forum_rule="eu.bia.4.1",
        law_rule="eu.rome1.4.1.a",
        rules=("eu.escp", CISG),
        absent=("eu.pammer", "eu.bia.18.1", "eu.rome1.6.1"),
        cites=("arts. 4(1) and 7(1)(b)", "art. 4(1)(a)", "No 861/2007"),
    ),
    S(
        "eu/FR-DE/not-directed/no-choice/services",
        facts("FR", "DE", False, contract="services"),
        "eu",
        law="DE",
        forum="DE",
        options=("DE", "FR"),
        forum_rule="eu.bia.4.1",
        law_rule="eu.rome1.4.1.b",
        absent=(CISG, "eu.rome1.4.1.a"),  # the CISG is about goods
        cites=("art. 4(1)(b)",),
    ),
    S(
        "eu/ES-IT/not-directed/no-choice/digital-content",
        facts("ES", "IT", False, contract="digital_content"),
        "eu",
        law="IT",
        forum="IT",
        options=("IT", "ES"),
        forum_rule="eu.bia.4.1",
        law_rule="eu.rome1.4.1.a",
        absent=(CISG, "eu.rome1.4.1.b"),
        cites=("art. 4(1)(a) and (2)",),
    ),
    S(
        "eu/IT-ES/directed/ES-law-chosen/services",
        facts("IT", "ES", indicators=[SITE], chosen_law="ES", contract="services"),
        "eu",
        law="ES",
        forum="IT",
        options=("IT", "ES"),
        protect=("IT",),
        forum_rule="eu.bia.18.1",
        law_rule="eu.rome1.6.2",
        rules=("eu.pammer",),
        absent=(CISG,),
    ),
    S(
        "eu/NL-DE/not-directed/DE-law-chosen",
        facts("NL", "DE", False, chosen_law="DE"),
        "eu",
        law="DE",
        forum="DE",
        options=("DE", "NL"),
        forum_rule="eu.bia.4.1",
        law_rule="eu.rome1.3.1",
        absent=("eu.rome1.6.2",),
        cites=("art. 3(1)",),
    ),
    S(
        # Rome I is universal (art. 2): a third country's law may be chosen.
        "eu/NL-DE/not-directed/US-law-chosen",
        facts("NL", "DE", False, chosen_law="US"),
        "eu",
        law="US",
        forum="DE",
        options=("DE", "NL"),
        law_rule="eu.rome1.3.1",
    ),
    S(
        # The chosen law is the consumer's own: nothing further to keep.
        "eu/PL-DE/directed/consumers-own-law-chosen",
        facts("PL", "DE", True, chosen_law="PL"),
        "eu",
        law="PL",
        forum="PL",
        options=("PL", "DE"),
        protect=(),
        forum_rule="eu.bia.18.1",
        law_rule="eu.rome1.6.2",
    ),
    S(
        "eu/DE-FR/directed/exclusive-FR-clause-before-dispute/not-binding",
        facts("DE", "FR", True, chosen_forum="FR"),
        "eu",
        law="DE",
        forum="DE",
        options=("DE", "FR"),
        forum_rule="eu.bia.18.1",
        law_rule="eu.rome1.6.1",
        rules=("eu.bia.19.clause", HAGUE),
        absent=("eu.bia.25.1", "eu.bia.19.1", "eu.bia.19.2"),
        cites=("Hague Convention", "(Brussels Ia), art. 19"),
    ),
    S(
        "eu/DE-FR/directed/FR-courts-chosen-after-dispute",
        facts("DE", "FR", True, chosen_forum="FR", choice_made_after_dispute=True),
        "eu",
        law="DE",
        forum="FR",
        options=("FR",),
        forum_rule="eu.bia.19.1",
        law_rule="eu.rome1.6.1",
        rules=(HAGUE,),
        absent=("eu.bia.19.clause", "eu.bia.18.1"),
        cites=("art. 19(1)",),
    ),
    S(
        "eu/DE-FR/directed/clause-adds-IE-courts",
        facts("DE", "FR", True, chosen_forum="IE", forum_clause_exclusive=False),
        "eu",
        law="DE",
        forum="DE",
        options=("DE", "IE", "FR"),
        forum_rule="eu.bia.19.2",
        absent=("eu.bia.19.clause",),
        cites=("art. 19(2)",),
    ),
    S(
        "eu/ES-DE/not-directed/exclusive-DE-clause",
        facts("ES", "DE", False, chosen_forum="DE"),
        "eu",
        law="DE",
        forum="DE",
        options=("DE",),
        forum_rule="eu.bia.25.1",
        law_rule="eu.rome1.4.1.a",
        rules=(HAGUE,),
        absent=("eu.bia.19.clause",),
        cites=("art. 25(1)",),
    ),
    S(
        "eu/ES-NL/not-directed/non-exclusive-IE-clause/merchants-courts-stay-open",
        facts("ES", "NL", False, chosen_forum="IE", forum_clause_exclusive=False),
        "eu",
        law="NL",
        forum="IE",
        options_include=("IE", "NL"),
        forum_rule="eu.bia.25.4",
    ),
    S(
        "eu/DE-FR/directed/non-exclusive-IE-courts-chosen-after-dispute/others-stay-open",
        facts("DE", "FR", True, chosen_forum="IE", choice_made_after_dispute=True, forum_clause_exclusive=False),
        "eu",
        law="DE",
        forum=None,
        options_include=("IE", "DE", "FR"),
    ),
    S(
        "eu/DE-CN/not-directed/CN-courts-clause",
        facts("DE", "CN", False, chosen_forum="CN"),
        "eu",
        law="CN",
        forum="CN",
        options=("CN",),
        forum_rule="eu.bia.6.1.clause",
        law_rule="eu.rome1.4.1.a",
        rules=(HAGUE,),
        absent=("eu.bia.25.1",),
        cites=("(Brussels Ia), art. 6(1)",),
    ),
    S(
        "eu/FR-US/not-directed/GB-courts-clause",
        facts("FR", "US", False, chosen_forum="GB"),
        "eu",
        law="US",
        forum="GB",
        options=("GB", "US"),
        forum_rule="eu.bia.6.1.clause",
    ),
    S(
        "eu/DE-US/not-directed/no-choice",
        facts("DE", "US", False, claim=eur("100.00")),
        "eu",
        law="US",
        forum="US",
        options=("US",),
        forum_rule="eu.bia.6.1",
        law_rule="eu.rome1.4.1.a",
        rules=(CISG,),
        absent=("eu.bia.4.1", "eu.escp"),
    ),
    S(
        "eu/DE-GB/directed/no-choice/no-small-claims-outside-EU",
        facts("DE", "GB", True, claim=eur("100.00")),
        "eu",
        law="DE",
        forum="DE",
        options=("DE", "GB"),
        forum_rule="eu.bia.18.1",
        law_rule="eu.rome1.6.1",
        absent=("eu.escp",),
    ),
    S(
        "eu/PL-KR/directed-site-aimed/no-choice",
        facts("PL", "KR", indicators=[SITE]),
        "eu",
        law="PL",
        forum="PL",
        options=("PL", "KR"),
        forum_rule="eu.bia.18.1",
        law_rule="eu.rome1.6.1",
        rules=("eu.pammer",),
    ),
    S(
        "eu/IE-IN/not-directed/no-choice/services",
        facts("IE", "IN", False, contract="services"),
        "eu",
        law="IN",
        forum="IN",
        options=("IN",),
        forum_rule="eu.bia.6.1",
        law_rule="eu.rome1.4.1.b",
        absent=(CISG,),
    ),
    S(
        "eu/DE-NO-merchant/directed/no-choice",
        facts("DE", "NO", True),
        "eu",
        law="DE",
        forum="DE",
        options=("DE", "NO"),
        forum_rule="eu.bia.18.1",
        law_rule="eu.rome1.6.1",
        absent=("eu.eea",),  # the consumer lives in the EU
    ),
    S(
        "eu/DK-DE/directed/Rome-Convention/no-small-claims-for-Denmark",
        facts("DK", "DE", True, claim=eur("100.00")),
        "eu",
        law="DK",
        forum="DK",
        options=("DK", "DE"),
        forum_rule="eu.bia.18.1",
        law_rule="eu.rome1.6.1",
        rules=("eu.rome1.dk",),
        absent=("eu.escp",),
        cites=("Rome Convention of 19 June 1980, art. 5",),
    ),
    S(
        "eu/DE-DK-merchant/directed/claim-EUR-100/no-small-claims-with-Denmark",
        facts("DE", "DK", True, claim=eur("100.00")),
        "eu",
        law="DE",
        forum="DE",
        options=("DE", "DK"),
        absent=("eu.escp",),
    ),
    S(
        "eu/NO-DE/directed/Lugano",
        facts("NO", "DE", True),
        "eu",
        law="NO",
        forum="NO",
        options=("NO", "DE"),
        forum_rule="eu.bia.18.1",
        law_rule="eu.rome1.6.1",
        rules=("eu.eea",),
        cites=("Lugano Convention",),
    ),
    S(
        "eu/IS-US/not-directed/Lugano",
        facts("IS", "US", False),
        "eu",
        law="US",
        forum="US",
        options=("US",),
        forum_rule="eu.bia.6.1",
        law_rule="eu.rome1.4.1.a",
        rules=("eu.eea",),
    ),
    S(
        "eu/NO-consumer/DE-merchant/claim-EUR-100/no-small-claims-outside-EU",
        facts("NO", "DE", True, claim=eur("100.00")),
        "eu",
        law="NO",
        forum="NO",
        options=("NO", "DE"),
        rules=("eu.eea",),
        absent=("eu.escp",),
    ),
    S(
        "eu/DE-consumer/NO-merchant/claim-EUR-100/no-small-claims-outside-EU",
        facts("DE", "NO", True, claim=eur("100.00")),
        "eu",
        law="DE",
        forum="DE",
        options=("DE", "NO"),
        absent=("eu.escp",),
    ),
    S(
        "eu/ES-FR/directed/claim-EUR-5000.00/small-claims",
        facts("ES", "FR", True, claim=eur("5000.00")),
        "eu",
        law="ES",
        forum="ES",
        options=("ES", "FR"),
        rules=("eu.escp",),
        cites=("Regulation (EU) 2015/2421",),
    ),
    S(
        "eu/ES-FR/directed/claim-EUR-5000.01/no-small-claims",
        facts("ES", "FR", True, claim=eur("5000.01")),
        "eu",
        law="ES",
        forum="ES",
        options=("ES", "FR"),
        absent=("eu.escp",),
    ),
    S(
        "eu/ES-ES/domestic",
        facts("ES", "ES", True, claim=eur("100.00")),
        "eu",
        law="ES",
        forum="ES",
        options=("ES",),
        forum_rule="eu.bia.4.1.domestic",
        law_rule="eu.rome1.1.1",
        absent=("eu.escp", CISG, "eu.bia.18.1", "eu.pammer"),
        cites=("(Brussels Ia), art. 4(1)", "(Rome I), art. 1(1)"),
    ),
    S(
        # Art. 19(3) only allows a clause for the courts of the parties' common Member State.
        "eu/DE-DE/domestic/exclusive-FR-clause-before-dispute/not-binding",
        facts("DE", "DE", True, chosen_forum="FR"),
        "eu",
        law="DE",
        forum="DE",
        options=("DE",),
        forum_rule="eu.bia.4.1.domestic",
        law_rule="eu.rome1.1.1",
        rules=("eu.bia.19.clause",),
    ),
    S(
        "eu/DE-DE/domestic/FR-courts-chosen-after-dispute",
        facts("DE", "DE", True, chosen_forum="FR", choice_made_after_dispute=True),
        "eu",
        law="DE",
        forum="FR",
        options=("FR",),
        forum_rule="eu.bia.19.1",
    ),
    S(
        "eu/DE-DE/domestic/FR-law-chosen/DE-protection-kept",
        facts("DE", "DE", True, chosen_law="FR"),
        "eu",
        law="FR",
        forum="DE",
        options=("DE",),
        protect=("DE",),
    ),
    S(
        "eu/IT-IT/domestic/ODR-agreed-before-dispute/not-binding",
        facts("IT", "IT", True, chosen_forum="odr"),
        "eu",
        law="IT",
        forum="IT",
        options=("IT",),
        forum_rule="eu.bia.4.1.domestic",
        rules=("eu.adr.10.1",),
        absent=("eu.adr.10",),
        cites=("(ADR Directive), art. 10(1)",),
    ),
    S(
        "eu/DE-CN/directed/ODR-agreed-before-dispute/not-binding",
        facts("DE", "CN", True, chosen_forum="odr"),
        "eu",
        law="DE",
        forum="DE",
        options=("DE", "CN"),
        forum_rule="eu.bia.18.1",
        rules=("eu.adr.10.1",),
        absent=("eu.adr.10", HAGUE, "eu.bia.19.clause"),  # no court was chosen
        cites=("art. 10(1)",),
    ),
    S(
        "eu/FR-CN/directed/ODR-agreed-after-dispute",
        facts("FR", "CN", True, chosen_forum="odr", choice_made_after_dispute=True),
        "eu",
        law="FR",
        forum="odr",
        options=("odr",),
        forum_rule="eu.adr.10",
        law_rule="eu.rome1.6.1",
        absent=("eu.adr.10.1", HAGUE),
        cites=("Directive 2013/11/EU (ADR Directive), art. 10",),
    ),
    S(
        "eu/ES-ES/domestic/ODR-agreed-after-dispute",
        facts("ES", "ES", True, chosen_forum="odr", choice_made_after_dispute=True),
        "eu",
        law="ES",
        forum="odr",
        options=("odr",),
        forum_rule="eu.adr.10",
        law_rule="eu.rome1.1.1",
    ),
    S(
        "eu/IE-GB/not-directed/ODR-agreed-before-dispute/not-binding",
        facts("IE", "GB", False, chosen_forum="odr"),
        "eu",
        law="GB",
        forum="GB",
        options=("GB",),
        forum_rule="eu.bia.6.1",
        law_rule="eu.rome1.4.1.a",
        rules=("eu.adr.10.1",),
        absent=("eu.adr.10",),
    ),
]

# --- China: LAL arts. 41-42; Civil Procedure Law (2023) and the SPC Interpretation (2022) ---------------------
CN = [
    S(
        "cn/CN-JP/directed/no-choice",
        facts("CN", "JP", indicators=[DELIVERS]),
        "cn",
        law="CN",
        forum="CN",
        options=("CN", "JP"),
        forum_rule="cn.cpl.276",
        law_rule="cn.lal.42",
        rules=(CISG,),
        absent=("cn.lal.41", HAGUE, "cn.spc.31"),
        cites=("art. 42", "(2023), art. 276"),
    ),
    S(
        # Art. 42: no business activity where the consumer lives -> the law of the place of supply.
        "cn/CN-US/not-directed/place-of-supply",
        facts("CN", "US", False),
        "cn",
        law="US",
        forum="US",
        options=("US",),
        forum_rule="cn.cpl.22",
        law_rule="cn.lal.42.no_activity",
        cites=("art. 42", "art. 22"),
    ),
    S(
        "cn/CN-DE/directed/DE-law-in-contract/art-42-prevails",
        facts("CN", "DE", True, chosen_law="DE"),
        "cn",
        law="CN",
        forum="CN",
        options=("CN", "DE"),
        protect=(),
        forum_rule="cn.cpl.276",
        law_rule="cn.lal.42",
        rules=("cn.lal.41",),
        cites=("arts. 41 and 42",),
    ),
    S(
        "cn/CN-DE/directed/consumer-later-chose-merchants-law",
        facts("CN", "DE", True, chosen_law="DE", choice_made_after_dispute=True),
        "cn",
        law="DE",
        forum="CN",
        options=("CN", "DE"),
        protect=(),
        forum_rule="cn.cpl.276",
        law_rule="cn.lal.42.chosen",
        absent=("cn.lal.41",),
        cites=("art. 42",),
    ),
    S(
        # Art. 42 lets the consumer choose only the law of the place of supply.
        "cn/CN-GB/directed/US-law-chosen-after-dispute/not-the-place-of-supply",
        facts("CN", "GB", True, chosen_law="US", choice_made_after_dispute=True),
        "cn",
        law="CN",
        forum="CN",
        options=("CN", "GB"),
        law_rule="cn.lal.42",
        rules=("cn.lal.41",),
        absent=("cn.lal.42.chosen",),
    ),
    S(
        "cn/CN-KR/directed/exclusive-KR-clause-before-dispute",
        facts("CN", "KR", True, chosen_forum="KR"),
        "cn",
        law="CN",
        forum="CN",
        options=("CN", "KR"),
        forum_rule="cn.cpl.276",
        rules=("cn.spc.31", HAGUE),
        absent=("cn.spc.529",),
        cites=("(2022), art. 31", "Hague Convention"),
    ),
    S(
        "cn/CN-KR/not-directed/SG-courts-clause",
        facts("CN", "KR", False, chosen_forum="SG"),
        "cn",
        law="KR",
        forum="SG",
        options=("SG", "KR"),
        forum_rule="cn.spc.529",
        law_rule="cn.lal.42.no_activity",
        absent=("cn.spc.31",),
        cites=("art. 529",),
    ),
    S(
        "cn/CN-US/directed/US-courts-chosen-after-dispute",
        facts("CN", "US", True, chosen_forum="US", choice_made_after_dispute=True),
        "cn",
        law="CN",
        forum="US",
        options=("US",),
        forum_rule="cn.spc.529.after",
        law_rule="cn.lal.42",
        rules=(HAGUE,),
        absent=("cn.spc.31", "cn.cpl.276"),
        cites=("art. 35",),
    ),
    S(
        "cn/CN-CN/domestic",
        facts("CN", "CN", True),
        "cn",
        law="CN",
        forum="CN",
        options=("CN",),
        forum_rule="cn.cpl.24.domestic",
        law_rule="domestic.law",
        absent=(CISG, "cn.cpl.276"),
    ),
    S(
        # Without a foreign element, Chinese law lets the parties choose neither foreign courts nor foreign law.
        "cn/CN-CN/domestic/US-courts-and-law-chosen-after-dispute",
        facts("CN", "CN", True, chosen_forum="US", chosen_law="US", choice_made_after_dispute=True),
        "cn",
        law="CN",
        forum="CN",
        options=("CN",),
        forum_rule="cn.cpl.24.domestic",
        law_rule="domestic.law",
        absent=("cn.spc.529.after",),
    ),
    S(
        "cn/CN-JP/directed/ODR-agreed-after-dispute",
        facts("CN", "JP", True, chosen_forum="odr", choice_made_after_dispute=True),
        "cn",
        law="CN",
        forum="odr",
        options=("odr",),
        forum_rule="cn.arbitration.16",
        law_rule="cn.lal.42",
        cites=("Arbitration Law of the PRC, art. 16",),
    ),
    S(
        "cn/CN-JP/directed/ODR-agreed-before-dispute/courts-proposed",
        facts("CN", "JP", True, chosen_forum="odr"),
        "cn",
        law="CN",
        forum="CN",
        options=("CN", "JP"),
        forum_rule="cn.cpl.276",
        absent=("cn.arbitration.16", HAGUE),
    ),
    S(
        "cn/CN-DE/not-directed/no-choice/services",
        facts("CN", "DE", False, contract="services"),
        "cn",
        law="DE",
        forum="DE",
        options=("DE",),
        forum_rule="cn.cpl.22",
        law_rule="cn.lal.42.no_activity",
        absent=(CISG,),
    ),
    S(
        "cn/CN-JP/directed/non-exclusive-SG-clause/SG-courts-added",
        facts("CN", "JP", True, chosen_forum="SG", forum_clause_exclusive=False),
        "cn",
        law="CN",
        forum="CN",
        options_include=("CN", "SG", "JP"),
        forum_rule="cn.spc.529.adds",
    ),
]

# --- United Kingdom: CJJA 1982 ss. 15A-15E; Rome I as retained; Arbitration Act 1996 ss. 89-91 ----------------
UK = [
    S(
        "uk/GB-DE/directed/no-choice",
        facts("GB", "DE", indicators=[DELIVERS, CURRENCY]),
        "uk",
        law="GB",
        forum="GB",
        options=("GB", "DE"),
        forum_rule="uk.cjja.15b.2",
        law_rule="uk.rome1.6.1",
        cites=("s. 15B(2)(b)", "as retained in UK law, art. 6(1)(b)"),
    ),
    S(
        "uk/GB-US/directed/US-law-chosen/GB-protection-kept",
        facts("GB", "US", True, chosen_law="US"),
        "uk",
        law="US",
        forum="GB",
        options=("GB", "US"),
        protect=("GB",),
        forum_rule="uk.cjja.15b.2",
        law_rule="uk.rome1.6.2",
        cites=("as retained in UK law, art. 6(2)",),
    ),
    S(
        "uk/GB-FR/not-directed/no-choice/services",
        facts("GB", "FR", False, contract="services"),
        "uk",
        law="FR",
        forum="FR",
        options=("FR",),
        forum_rule="uk.cpr.6.36",
        law_rule="uk.rome1.4.1.b",
        cites=("CPR r. 6.36",),
    ),
    S(
        "uk/GB-CN/directed/exclusive-CN-clause-before-dispute/not-binding",
        facts("GB", "CN", True, chosen_forum="CN"),
        "uk",
        law="GB",
        forum="GB",
        options=("GB", "CN"),
        forum_rule="uk.cjja.15b.2",
        rules=("uk.cjja.15b.6.clause", HAGUE),
        absent=("uk.cra.62",),
        cites=("s. 15B(6)", "Hague Convention"),
    ),
    S(
        "uk/GB-CN/directed/CN-courts-chosen-after-dispute",
        facts("GB", "CN", True, chosen_forum="CN", choice_made_after_dispute=True),
        "uk",
        law="GB",
        forum="CN",
        options=("CN",),
        forum_rule="uk.cjja.15b.6.after",
        absent=("uk.cjja.15b.6.clause",),
        cites=("s. 15B(6)",),
    ),
    S(
        "uk/GB-DE/directed/clause-adds-IE-courts",
        facts("GB", "DE", True, chosen_forum="IE", forum_clause_exclusive=False),
        "uk",
        law="GB",
        forum="GB",
        options=("GB", "IE", "DE"),
        forum_rule="uk.cjja.15b.6.adds",
        absent=("uk.cjja.15b.6.clause",),
    ),
    S(
        "uk/GB-US/not-directed/US-courts-clause/fairness-test",
        facts("GB", "US", False, chosen_forum="US"),
        "uk",
        law="US",
        forum="US",
        options=("US",),
        forum_rule="uk.cra.62",
        law_rule="uk.rome1.4.1.a",
        cites=("Consumer Rights Act 2015, s. 62",),
    ),
    S(
        "uk/GB-DE/directed/ODR-before-dispute/claim-GBP-300/unfair-under-s91",
        facts("GB", "DE", True, chosen_forum="odr", claim=gbp("300.00")),
        "uk",
        law="GB",
        forum="GB",
        options=("GB", "DE"),
        forum_rule="uk.cjja.15b.2",
        rules=("uk.aa.91", "uk.cra.62.odr"),
        absent=("uk.aa.89",),
        cites=("Arbitration Act 1996, s. 91", "Specified Amount"),
    ),
    S(
        "uk/GB-DE/directed/ODR-before-dispute/claim-GBP-5000.00/unfair-under-s91",
        facts("GB", "DE", True, chosen_forum="odr", claim=gbp("5000.00")),
        "uk",
        law="GB",
        forum="GB",
        options=("GB", "DE"),
        rules=("uk.aa.91", "uk.cra.62.odr"),
    ),
    S(
        "uk/GB-DE/directed/ODR-before-dispute/claim-GBP-5000.01/fairness-only",
        facts("GB", "DE", True, chosen_forum="odr", claim=gbp("5000.01")),
        "uk",
        law="GB",
        forum="GB",
        options=("GB", "DE"),
        rules=("uk.cra.62.odr",),
        absent=("uk.aa.91", "uk.aa.89"),
    ),
    S(
        "uk/GB-DE/directed/ODR-after-dispute/claim-GBP-300",
        facts("GB", "DE", True, chosen_forum="odr", choice_made_after_dispute=True, claim=gbp("300.00")),
        "uk",
        law="GB",
        forum="odr",
        options=("odr",),
        forum_rule="uk.aa.89",
        law_rule="uk.rome1.6.1",
        absent=("uk.aa.91", "uk.cra.62.odr"),
        cites=("Arbitration Act 1996, ss. 89-91",),
    ),
    S(
        "uk/GB-GB/domestic",
        facts("GB", "GB", True),
        "uk",
        law="GB",
        forum="GB",
        options=("GB",),
        forum_rule="domestic.forum",
        law_rule="uk.rome1.1.1",
        absent=(CISG, "uk.cjja.15b.2"),
    ),
]

# --- United States: Restatement (Second) ss. 187, 188, 191; FAA; forum clauses; personal jurisdiction ------
US = [
    S(
        "us/US-CN/directed/no-choice/goods",
        facts("US", "CN", indicators=[DELIVERS]),
        "us",
        law="US",
        forum="US",
        options=("US", "CN"),
        forum_rule="us.personal_jurisdiction.directed",
        law_rule="us.r2d.191",
        cites=("§§ 188 and 191", "Ford Motor Co."),
    ),
    S(
        "us/US-CN/directed/no-choice/services",
        facts("US", "CN", True, contract="services"),
        "us",
        law="CN",
        forum="US",
        options=("US", "CN"),
        law_rule="us.r2d.188",
        absent=("us.r2d.191", CISG),
        cites=("§ 188",),
    ),
    S(
        "us/US-GB/not-directed/no-choice",
        facts("US", "GB", False),
        "us",
        law="GB",
        forum="GB",
        options=("GB",),
        forum_rule="us.personal_jurisdiction",
        law_rule="us.r2d.188",
        cites=("International Shoe",),
    ),
    S(
        "us/US-CN/directed/CN-law-chosen/fundamental-policy-kept",
        facts("US", "CN", True, chosen_law="CN"),
        "us",
        law="CN",
        forum="US",
        options=("US", "CN"),
        protect=("US",),
        law_rule="us.r2d.187.2.b",
        absent=("us.r2d.187.2.a",),
        cites=("§ 187(2)(b)",),
    ),
    S(
        "us/US-DE/not-directed/DE-law-chosen",
        facts("US", "DE", False, chosen_law="DE"),
        "us",
        law="DE",
        forum="DE",
        options=("DE",),
        protect=(),
        law_rule="us.r2d.187",
        absent=("us.r2d.187.2.b", "us.r2d.187.2.a"),
    ),
    S(
        "us/US-CN/directed/unconnected-CH-law-disregarded",
        facts("US", "CN", True, chosen_law="CH"),
        "us",
        law="US",
        forum="US",
        options=("US", "CN"),
        protect=(),
        law_rule="us.r2d.191",
        rules=("us.r2d.187.2.a",),
        absent=("us.r2d.187", "us.r2d.187.2.b"),
        cites=("§ 187(2)(a)",),
    ),
    S(
        "us/US-CN/not-directed/unconnected-SG-law-disregarded/services",
        facts("US", "CN", False, chosen_law="SG", contract="services"),
        "us",
        law="CN",
        forum="CN",
        options=("CN",),
        law_rule="us.r2d.188",
        rules=("us.r2d.187.2.a",),
    ),
    S(
        "us/US-JP/directed/exclusive-JP-clause-enforced",
        facts("US", "JP", True, chosen_forum="JP"),
        "us",
        law="US",
        forum="JP",
        options=("JP",),
        forum_rule="us.forum_clause",
        law_rule="us.r2d.191",
        rules=(HAGUE,),
        cites=("Carnival Cruise Lines", "Hague Convention"),
    ),
    S(
        "us/US-JP/directed/ODR-agreed-before-dispute/FAA",
        facts("US", "JP", True, chosen_forum="odr"),
        "us",
        law="US",
        forum="odr",
        options=("odr",),
        forum_rule="us.faa.2",
        cites=("9 U.S.C. § 2",),
    ),
    S(
        "us/US-JP/not-directed/ODR-agreed-after-dispute",
        facts("US", "JP", False, chosen_forum="odr", choice_made_after_dispute=True),
        "us",
        law="JP",
        forum="odr",
        options=("odr",),
        forum_rule="us.faa.2",
        law_rule="us.r2d.188",
    ),
    S(
        "us/US-US/domestic/ODR-agreed-before-dispute",
        facts("US", "US", True, chosen_forum="odr"),
        "us",
        law="US",
        forum="odr",
        options=("odr",),
        forum_rule="us.faa.2",
        law_rule="domestic.law",
        absent=(CISG,),
    ),
    S(
        "us/US-US/domestic/unconnected-DE-law",
        facts("US", "US", True, chosen_law="DE"),
        "us",
        law="US",
        forum="US",
        options=("US",),
        forum_rule="domestic.forum",
        law_rule="domestic.law",
        rules=("us.r2d.187.2.a",),
    ),
    S(
        "us/US-CN/directed/non-exclusive-JP-clause/home-courts-stay-open",
        facts("US", "CN", True, chosen_forum="JP", forum_clause_exclusive=False),
        "us",
        law="US",
        forum="US",
        options_include=("US", "JP", "CN"),
    ),
]

# --- Everyone else: general principles ----------------------------------------------------------------------
GENERAL = [
    S(
        "general/JP-US/directed/no-choice/consumers-law",
        facts("JP", "US", indicators=[LANGUAGE, CURRENCY]),
        "general",
        law="JP",
        forum="JP",
        options=("JP", "US"),
        forum_rule="general.forum.consumer",
    ),
    S(
        "general/JP-US/directed/US-law-chosen/JP-protection-kept",
        facts("JP", "US", True, chosen_law="US"),
        "general",
        law="US",
        forum="JP",
        options=("JP", "US"),
        protect=("JP",),
        forum_rule="general.forum.consumer",
        law_rule="general.law.chosen.protected",
        rules=("general.caveat", CISG),
        cites=("art. 11(1)", "art. 3-4(1)"),
    ),
    S(
        "general/BR-CN/not-directed/no-choice",
        facts("BR", "CN", False),
        "general",
        law="CN",
        forum="CN",
        options=("CN",),
        forum_rule="general.forum.defendant",
        law_rule="general.law.closest",
        rules=("general.caveat", CISG),
        cites=("actor sequitur forum rei",),
    ),
    S(
        "general/AU-GB/not-directed/GB-law-chosen",
        facts("AU", "GB", False, chosen_law="GB"),
        "general",
        law="GB",
        forum="GB",
        options=("GB",),
        protect=(),
        forum_rule="general.forum.defendant",
        law_rule="general.law.chosen",
    ),
    S(
        "general/IN-US/directed/exclusive-US-clause-before-dispute/US-law-chosen",
        facts("IN", "US", True, chosen_forum="US", chosen_law="US"),
        "general",
        law="US",
        forum="IN",
        options=("IN", "US"),
        protect=("IN",),
        forum_rule="general.forum.consumer",
        law_rule="general.law.chosen.protected",
        rules=(HAGUE,),
        absent=("general.forum.clause",),
    ),
    S(
        "general/KR-JP/not-directed/SG-courts-clause",
        facts("KR", "JP", False, chosen_forum="SG"),
        "general",
        law="JP",
        forum="SG",
        options=("SG", "JP"),
        forum_rule="general.forum.clause",
        law_rule="general.law.closest",
        rules=(HAGUE,),
    ),
    S(
        "general/KR-CN/directed/US-courts-and-CN-law-chosen-after-dispute",
        facts("KR", "CN", True, chosen_forum="US", chosen_law="CN", choice_made_after_dispute=True),
        "general",
        law="CN",
        forum="US",
        options=("US",),
        protect=("KR",),
        forum_rule="general.forum.after",
        law_rule="general.law.chosen.protected",
    ),
    S(
        "general/AU-US/not-directed/ODR-agreed-after-dispute",
        facts("AU", "US", False, chosen_forum="odr", choice_made_after_dispute=True),
        "general",
        law="US",
        forum="odr",
        options=("odr",),
        forum_rule="general.odr",
        law_rule="general.law.closest",
        cites=("New York Convention",),
    ),
    S(
        "general/AU-US/not-directed/ODR-agreed-before-dispute/courts-proposed",
        facts("AU", "US", False, chosen_forum="odr"),
        "general",
        law="US",
        forum="US",
        options=("US",),
        forum_rule="general.forum.defendant",
        absent=("general.odr", HAGUE),
    ),
    S(
        "general/JP-JP/domestic",
        facts("JP", "JP", True),
        "general",
        law="JP",
        forum="JP",
        options=("JP",),
        forum_rule="domestic.forum",
        law_rule="domestic.law",
        absent=("general.caveat", CISG),
    ),
    S(
        "general/BR-DE/not-directed/no-choice/services",
        facts("BR", "DE", False, contract="services"),
        "general",
        law="DE",
        forum="DE",
        options=("DE",),
        forum_rule="general.forum.defendant",
        law_rule="general.law.closest",
        rules=("general.caveat",),
        absent=(CISG,),
    ),
    S(
        "general/KR-CN/directed/consumers-own-law-chosen",
        facts("KR", "CN", True, chosen_law="KR"),
        "general",
        law="KR",
        forum="KR",
        options=("KR", "CN"),
        protect=(),
        law_rule="general.law.chosen.protected",
    ),
]

SCENARIOS = [*EU, *CN, *UK, *US, *GENERAL]


def _param(scenario: Scenario):
    marks = ()
    if scenario.engine_disagrees:
        marks = (pytest.mark.xfail(strict=True, reason=scenario.engine_disagrees),)
    return pytest.param(scenario, id=scenario.id, marks=marks)


def test_the_table_is_large_and_its_ids_unique():
    assert len(SCENARIOS) >= 48
    assert len({s.id for s in SCENARIOS}) == len(SCENARIOS)


@pytest.fixture
def client(api):
    """Any signed-in user may ask; an operator here, reading English."""
    return api(user(Role.OPERATOR, country="IE", time_zone="UTC"))


@pytest.mark.parametrize("scenario", [_param(s) for s in SCENARIOS])
def test_scenario(client, scenario: Scenario):
    response = client.post(URL, scenario.facts, format="json")

    assert response.status_code == 200, response.content
    answer = response.json()
    reasons = answer["reasons"]
    rules = [r["rule"] for r in reasons]
    citations = [r["citation"] for r in reasons]

    assert answer["ruleset"] == scenario.ruleset
    assert answer["applicable_law"] == scenario.law, rules
    if scenario.forum is not None:
        assert answer["forum"] == scenario.forum, rules
        assert answer["forum_options"][0] == scenario.forum
    if scenario.options is not None:
        assert answer["forum_options"] == list(scenario.options), rules
    for place in scenario.options_include:
        assert place in answer["forum_options"], (place, answer["forum_options"], rules)
    assert [p["country"] for p in answer["mandatory_protection"]] == list(scenario.protect), rules
    # The protection comes from the law rule that applied the chosen law.
    assert all(p["rule"] == rules[1] for p in answer["mandatory_protection"])

    # The first reason decides the forum, the second the law; the rest are notes.
    assert [r["kind"] for r in reasons[:2]] == ["forum", "law"]
    assert all(r["kind"] == "note" for r in reasons[2:])
    if scenario.forum_rule is not None:
        assert rules[0] == scenario.forum_rule, rules
    if scenario.law_rule is not None:
        assert rules[1] == scenario.law_rule, rules
    for rule in scenario.rules:
        assert rule in rules, (rule, rules)
    for rule in scenario.absent:
        assert rule not in rules, (rule, rules)
    for cite in scenario.cites:
        assert any(cite in c for c in citations), (cite, citations)
    assert all(r["text"] for r in reasons)
