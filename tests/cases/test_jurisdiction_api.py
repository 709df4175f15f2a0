"""The jurisdiction engine's HTTP surface and its place in a case.

1. ``POST /api/v1/jurisdiction/evaluate/`` refuses bad or contradictory facts with 400 and field errors --
   never a guess -- and anonymous callers with 401; it accepts lower-case codes and takes indicators as
   showing directed activity.
2. Reasons come in the reader's language (the compiled zh_Hans catalogue): text and country names.
3. In a case, the proposal is computed at the merchant's response from the consumer's answers at filing and
   the merchant's pleading; ``GET /api/v1/cases/{id}/jurisdiction/`` shows it to the case's people only;
   accepting, contesting, deciding, and the objections deadline confirming an uncontested proposal.
"""

import datetime as dt
import re
from pathlib import Path

import pytest
import time_machine
from django.conf import settings
from rest_framework.test import APIClient

from accounts.models import Role
from cases.deadlines import sweep_all
from cases.jurisdiction import RULES
from cases.models import Deadline
from tests.factories import filing_body, user

pytestmark = pytest.mark.django_db

EVALUATE = "/api/v1/jurisdiction/evaluate/"
CJK = re.compile(r"[\u4e00-\u9fff]")
MO = Path(settings.BASE_DIR) / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.mo"


def assert_error(response, status, code) -> dict:
    """The project's one error shape (odr/errors.py ``error_body``)."""
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"error"}, body
    assert set(body["error"]) == {"code", "message", "fields"}
    assert body["error"]["code"] == code
    assert body["error"]["message"]
    return body["error"]


def valid(**overrides) -> dict:
    body = {"consumer_country": "DE", "merchant_country": "CN", "directed_to_consumer_country": True}
    body.update(overrides)
    return body


def without(key, **overrides) -> dict:
    body = valid(**overrides)
    del body[key]
    return body


@pytest.fixture
def reader(api):
    return api(user(Role.CONSUMER, country="DE", time_zone="Europe/Berlin"))


# --- 1. evaluate: bad input is refused, never guessed --------------------------------------------------------
def B(body, field, id):  # noqa: N802
    return pytest.param(body, field, id=id)


BAD_INPUT = [
    B(valid(consumer_country="ZZ"), "consumer_country", "consumer-country-ZZ"),
    B(valid(merchant_country="XX"), "merchant_country", "merchant-country-XX"),
    B(valid(consumer_country="Germany"), "consumer_country", "consumer-country-a-name"),
    B(valid(consumer_country="DEU"), "consumer_country", "consumer-country-alpha-3"),
    B(valid(merchant_country="UK"), "merchant_country", "merchant-country-UK-not-ISO"),
    B(valid(consumer_country=""), "consumer_country", "consumer-country-empty"),
    B(valid(consumer_country=None), "consumer_country", "consumer-country-null"),
    B(valid(consumer_country=276), "consumer_country", "consumer-country-a-number"),
    B(without("consumer_country"), "consumer_country", "consumer-country-missing"),
    B(without("merchant_country"), "merchant_country", "merchant-country-missing"),
    B(valid(chosen_law="ZZ"), "chosen_law", "chosen-law-ZZ"),
    B(valid(chosen_law="odr"), "chosen_law", "chosen-law-cannot-be-odr"),
    B(valid(chosen_forum="XX"), "chosen_forum", "chosen-forum-XX"),
    B(valid(chosen_forum=""), "chosen_forum", "chosen-forum-empty-string"),
    B(valid(chosen_forum="online"), "chosen_forum", "chosen-forum-a-word"),
    B(valid(choice_made_after_dispute=True), "choice_made_after_dispute", "after-dispute-without-a-choice"),
    B(
        valid(choice_made_after_dispute=True, chosen_forum=None, chosen_law=None),
        "choice_made_after_dispute",
        "after-dispute-with-null-choices",
    ),
    B(valid(forum_clause_exclusive=False), "forum_clause_exclusive", "clause-adds-without-a-forum"),
    B(valid(forum_clause_exclusive=True), "forum_clause_exclusive", "clause-exclusive-without-a-forum"),
    B(
        valid(forum_clause_exclusive=False, chosen_law="CN"),
        "forum_clause_exclusive",
        "clause-adds-with-only-a-law-chosen",
    ),
    B(
        valid(forum_clause_exclusive=False, chosen_forum="odr"),
        "forum_clause_exclusive",
        "clause-adds-with-odr",
    ),
    B(
        valid(forum_clause_exclusive=True, chosen_forum="odr", choice_made_after_dispute=True),
        "forum_clause_exclusive",
        "clause-exclusive-with-odr",
    ),
    B(
        valid(directed_to_consumer_country=False, directing_indicators=["consumer_language"]),
        "directing_indicators",
        "not-directed-yet-indicators",
    ),
    B(without("directed_to_consumer_country"), "directed_to_consumer_country", "neither-directed-nor-indicators"),
    B(
        without("directed_to_consumer_country", directing_indicators=[]),
        "directed_to_consumer_country",
        "no-directed-and-empty-indicators",
    ),
    B(valid(directed_to_consumer_country="maybe"), "directed_to_consumer_country", "directed-not-a-boolean"),
    B(valid(directing_indicators=["cheap_shipping"]), "directing_indicators.0", "unknown-indicator"),
    B(
        valid(directing_indicators=["consumer_language", "free_gifts"]),
        "directing_indicators.1",
        "second-indicator-unknown",
    ),
    B(valid(directing_indicators="consumer_language"), "directing_indicators", "indicators-not-a-list"),
    B(valid(contract="lease"), "contract", "unknown-contract"),
    B(valid(claim={"amount": "abc", "currency": "EUR"}), "claim.amount", "claim-amount-not-decimal"),
    B(valid(claim={"amount": "-5.00", "currency": "EUR"}), "claim.amount", "claim-negative"),
    B(valid(claim={"amount": "0", "currency": "EUR"}), "claim.amount", "claim-zero"),
    B(valid(claim={"amount": 12.5, "currency": "EUR"}), "claim.amount", "claim-a-float"),
    B(valid(claim={"amount": "10.001", "currency": "EUR"}), "claim.amount", "claim-too-many-decimals"),
    B(valid(claim={"amount": "100.00", "currency": "ZZZ"}), "claim.currency", "claim-unknown-currency"),
    B(valid(claim={"amount": "100.00"}), "claim", "claim-without-currency"),
    B(valid(claim="100 EUR"), "claim", "claim-not-an-object"),
]


@pytest.mark.parametrize(("body", "field"), BAD_INPUT)
def test_bad_facts_are_400_with_the_field_never_a_guess(reader, body, field):
    response = reader.post(EVALUATE, body, format="json")

    error = assert_error(response, 400, "invalid")
    assert field in error["fields"], error["fields"]
    messages = error["fields"][field]
    assert messages and all(isinstance(m, str) and m for m in messages)


def test_several_errors_are_reported_together(reader):
    body = {"consumer_country": "ZZ", "merchant_country": "Germany", "chosen_forum": "", "claim": {"amount": "x"}}
    error = assert_error(reader.post(EVALUATE, body, format="json"), 400, "invalid")
    assert {"consumer_country", "merchant_country", "chosen_forum"} <= set(error["fields"])


def test_a_body_that_is_not_an_object_is_400(reader):
    assert_error(reader.post(EVALUATE, ["DE", "CN"], format="json"), 400, "invalid")


def test_anonymous_is_401(api):
    response = api(None).post(EVALUATE, valid(), format="json")
    assert_error(response, 401, "not_authenticated")


@pytest.mark.parametrize("role", [Role.CONSUMER, Role.MERCHANT, Role.MEDIATOR, Role.ARBITRATOR, Role.OPERATOR])
def test_any_signed_in_role_may_evaluate(api, role):
    response = api(user(role)).post(EVALUATE, valid(), format="json")
    assert response.status_code == 200, response.content
    assert response.json()["forum"] == "DE"


# --- 1b. evaluate: what valid input means ----------------------------------------------------------------
def test_lower_case_codes_are_accepted_and_upper_cased(reader):
    body = {
        "consumer_country": "de",
        "merchant_country": "cn",
        "directed_to_consumer_country": True,
        "chosen_law": "cn",
        "chosen_forum": "fr",
        "choice_made_after_dispute": True,
    }
    response = reader.post(EVALUATE, body, format="json")

    assert response.status_code == 200, response.content
    answer = response.json()
    assert answer["facts"]["consumer_country"] == "DE"
    assert answer["facts"]["merchant_country"] == "CN"
    assert answer["facts"]["chosen_law"] == "CN"
    assert answer["facts"]["chosen_forum"] == "FR"
    assert answer["forum"] == "FR"  # chosen after the dispute: Brussels Ia art. 19(1)
    assert answer["applicable_law"] == "CN"
    assert [p["country"] for p in answer["mandatory_protection"]] == ["DE"]


@pytest.mark.parametrize("odr", ["odr", "ODR", "Odr"])
def test_odr_is_accepted_in_any_case(reader, odr):
    body = valid(chosen_forum=odr, choice_made_after_dispute=True)
    answer = reader.post(EVALUATE, body, format="json").json()
    assert answer["facts"]["chosen_forum"] == "odr"
    assert answer["forum"] == "odr"


def test_indicators_alone_say_the_activity_was_directed(reader):
    body = {"consumer_country": "DE", "merchant_country": "CN", "directing_indicators": ["consumer_currency"]}
    response = reader.post(EVALUATE, body, format="json")

    assert response.status_code == 200, response.content
    answer = response.json()
    assert answer["facts"]["directed_to_consumer_country"] is True
    assert answer["facts"]["directing_indicators"] == ["consumer_currency"]
    assert answer["forum"] == "DE" and answer["applicable_law"] == "DE"
    pammer = next(r for r in answer["reasons"] if r["rule"] == "eu.pammer")
    assert "prices in the consumer's currency" in pammer["text"]


def test_indicators_given_twice_count_once(reader):
    body = valid(directing_indicators=["consumer_language", "consumer_language", "delivers_to_consumer_country"])
    answer = reader.post(EVALUATE, body, format="json").json()
    assert answer["facts"]["directing_indicators"] == ["consumer_language", "delivers_to_consumer_country"]


def test_directed_without_indicators_gives_no_indicator_note(reader):
    answer = reader.post(EVALUATE, valid(), format="json").json()
    assert answer["facts"]["directed_to_consumer_country"] is True
    assert "eu.pammer" not in [r["rule"] for r in answer["reasons"]]


def test_the_answer_has_every_part(reader):
    body = valid(chosen_law="CN", contract="services", claim={"amount": "250.00", "currency": "EUR"})
    response = reader.post(EVALUATE, body, format="json")

    assert response.status_code == 200, response.content
    answer = response.json()
    assert {
        "applicable_law",
        "forum",
        "forum_options",
        "reasons",
        "mandatory_protection",
        "ruleset",
        "ruleset_name",
        "ruleset_version",
        "facts",
        "disclaimer",
    } <= set(answer)
    assert answer["ruleset"] == "eu" and answer["ruleset_name"] == "European Union and EEA"
    assert answer["ruleset_version"]
    assert answer["disclaimer"]
    assert "status" not in answer  # only a case's proposal has a status
    for reason in answer["reasons"]:
        assert set(reason) == {"rule", "kind", "citation", "text"}
        assert reason["rule"] in RULES
    [protection] = answer["mandatory_protection"]
    assert set(protection) == {"country", "rule", "citation", "text"}
    assert protection["text"] == "The mandatory consumer protection of the law of Germany is retained."
    assert answer["facts"]["contract"] == "services"
    assert answer["facts"]["claim"] == {"amount": "250.00", "currency": "EUR"}


# --- 2. in the reader's language ---------------------------------------------------------------------------
def test_the_chinese_catalogue_is_compiled():
    assert MO.exists(), f"{MO} is missing: run `make messages` (or `make install`)"


def test_every_rule_statement_is_translated_into_chinese():
    from django.utils import translation

    untranslated = []
    with translation.override("zh-hans"):
        for rule in RULES.values():
            if not CJK.search(str(rule.statement)):
                untranslated.append(rule.id)
    assert not untranslated


def _session_client(person):
    client = APIClient()
    client.force_login(person)
    return client


def _assert_chinese(answer):
    texts = [r["text"] for r in answer["reasons"]]
    assert all(CJK.search(t) for t in texts), texts
    assert "德国" in texts[0], texts[0]  # the forum reason names Germany, in Chinese
    assert not any("Germany" in t or "directed its activity" in t for t in texts), texts
    assert CJK.search(answer["ruleset_name"])
    assert CJK.search(answer["disclaimer"])
    [protection] = answer["mandatory_protection"]
    assert "德国" in protection["text"]
    # Rule ids and citations are not translated.
    assert answer["reasons"][0]["rule"] == "eu.bia.18.1"
    assert "Brussels Ia" in answer["reasons"][0]["citation"]


CHINESE_FACTS = valid(chosen_law="CN", directing_indicators=["consumer_language"])


def test_reasons_in_chinese_for_a_chinese_reader_signed_in_by_session():
    chinese = user(Role.MERCHANT, country="CN", time_zone="Asia/Shanghai", language="zh-hans")
    response = _session_client(chinese).post(EVALUATE, CHINESE_FACTS, format="json")

    assert response.status_code == 200, response.content
    assert response["Content-Language"] == "zh-hans"
    _assert_chinese(response.json())


def test_reasons_in_chinese_for_a_chinese_reader_with_a_token(api):
    chinese = user(Role.CONSUMER, country="CN", time_zone="Asia/Shanghai", language="zh-hans")
    response = api(chinese).post(EVALUATE, CHINESE_FACTS, format="json")

    assert response.status_code == 200, response.content
    _assert_chinese(response.json())


def test_reasons_in_english_for_an_english_reader(reader):
    answer = reader.post(EVALUATE, CHINESE_FACTS, format="json").json()
    texts = [r["text"] for r in answer["reasons"]]
    assert not any(CJK.search(t) for t in texts), texts
    assert "Germany" in texts[0]
    assert "sells in the consumer's language" in next(r["text"] for r in answer["reasons"] if r["rule"] == "eu.pammer")


# --- 3. in a case --------------------------------------------------------------------------------------------
CASES = "/api/v1/cases/"


def jurisdiction_url(case_id):
    return f"{CASES}{case_id}/jurisdiction/"


def act(client, case_id, action, body=None):
    return client.post(f"{CASES}{case_id}/actions/{action}/", body or {}, format="json")


def contest(**pleading):
    return {"position": "contest", "statement": "The parcel was delivered on 3 October.", **pleading}


@pytest.fixture
def people(cast):
    """A consumer in Germany, the cast's merchant in China (zh-hans), the operator and outsiders."""
    return {
        "consumer": user(Role.CONSUMER, country="DE", time_zone="Europe/Berlin"),
        "merchant": cast.merchant,
        "operator": cast.operator,
        "mediator": cast.mediator,
        "stranger": user(Role.CONSUMER, country="DE", time_zone="Europe/Berlin"),
        "other_merchant": user(Role.MERCHANT, country="FR", time_zone="Europe/Paris"),
    }


@pytest.fixture
def as_(api, people):
    return lambda who: api(people[who])


def file(as_, people, **filing) -> str:
    """File through the API as the German consumer against the Chinese merchant; the case's id."""
    response = as_("consumer").post(CASES, filing_body(people["merchant"].organisation_id, **filing), format="json")
    assert response.status_code == 201, response.content
    return response.json()["id"]


def respond(as_, case_id, **pleading) -> dict:
    response = act(as_("merchant"), case_id, "respond", contest(**pleading))
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "jurisdiction"
    return response.json()


def proposal(as_, case_id, who="consumer") -> dict:
    response = as_(who).get(jurisdiction_url(case_id))
    assert response.status_code == 200, response.content
    return response.json()


def rules_of(answer) -> list[str]:
    return [r["rule"] for r in answer["reasons"]]


def events(client, case_id) -> list[dict]:
    response = client.get(f"{CASES}{case_id}/events/")
    assert response.status_code == 200, response.content
    return response.json()["results"]


def priced_in_yuan() -> dict:
    order = {**filing_body(0)["order"], "price": {"amount": "600.00", "currency": "CNY"}}
    return {"order": order, "claim": {"amount": "600.00", "currency": "CNY"}}


def test_the_proposal_reflects_the_consumers_indicators_and_the_merchants_pleading(as_, people):
    case_id = file(as_, people, directing_indicators=["delivers_to_consumer_country", "consumer_language"])
    respond(as_, case_id, chosen_law="cn")

    answer = proposal(as_, case_id)
    assert answer["status"] == "proposed"
    assert answer["accepted_by"] == []
    assert answer["applicable_law"] == "CN"  # the merchant's pleaded law (Rome I art. 6(2)) ...
    assert [p["country"] for p in answer["mandatory_protection"]] == ["DE"]  # ... with Germany's protection
    assert answer["forum"] == "DE" and answer["forum_options"] == ["DE", "CN"]  # Brussels Ia art. 18(1)
    assert rules_of(answer)[:2] == ["eu.bia.18.1", "eu.rome1.6.2"]
    assert "eu.pammer" in rules_of(answer)
    assert answer["ruleset"] == "eu"
    assert answer["facts"]["consumer_country"] == "DE" and answer["facts"]["merchant_country"] == "CN"
    assert answer["facts"]["directed_to_consumer_country"] is True
    assert {"delivers_to_consumer_country", "consumer_language"} <= set(answer["facts"]["directing_indicators"])
    assert answer["facts"]["chosen_law"] == "CN"
    assert answer["disclaimer"]

    # The case's own representation carries the same proposal.
    case = as_("consumer").get(f"{CASES}{case_id}/").json()
    assert case["jurisdiction"]["applicable_law"] == "CN"
    assert case["jurisdiction"]["status"] == "proposed"

    # The respond event records the proposal: conclusions, rules and the rule set's version.
    [responded] = [e for e in events(as_("consumer"), case_id) if e["type"] == "respond"]
    recorded = responded["payload"]["jurisdiction"]
    assert recorded["forum"] == "DE"
    assert recorded["forum_options"] == ["DE", "CN"]
    assert recorded["applicable_law"] == "CN"
    assert recorded["rules"] == rules_of(answer)
    assert recorded["mandatory_protection"] == ["DE"]
    assert recorded["ruleset"] == "eu"
    assert recorded["ruleset_version"] == answer["ruleset_version"]
    assert responded["payload"]["from"] == "filed" and responded["payload"]["to"] == "jurisdiction"


def test_without_indicators_and_priced_in_the_merchants_currency_the_activity_is_not_directed(as_, people):
    case_id = file(as_, people, **priced_in_yuan())
    respond(as_, case_id)

    answer = proposal(as_, case_id)
    assert answer["facts"]["directed_to_consumer_country"] is False
    assert answer["facts"]["directing_indicators"] == []
    # A merchant outside the EU that did not direct its activity: its own courts and, without a choice,
    # the seller's law (Brussels Ia art. 6(1); Rome I art. 4(1)(a)).
    assert answer["forum"] == "CN"
    assert answer["applicable_law"] == "CN"
    assert rules_of(answer)[:2] == ["eu.bia.6.1", "eu.rome1.4.1.a"]


def test_a_price_in_the_consumers_currency_counts_as_an_indicator(as_, people):
    case_id = file(as_, people)  # EUR: Germany's currency, not China's
    respond(as_, case_id)

    answer = proposal(as_, case_id)
    assert answer["facts"]["directing_indicators"] == ["consumer_currency"]
    assert answer["forum"] == "DE" and answer["applicable_law"] == "DE"


def test_the_merchants_pleaded_forum_clause_before_the_dispute_does_not_bind_the_consumer(as_, people):
    case_id = file(as_, people, directing_indicators=["site_aimed_at_consumer_country"])
    respond(as_, case_id, chosen_forum="CN")

    answer = proposal(as_, case_id)
    assert answer["forum"] == "DE"
    assert "eu.bia.19.clause" in rules_of(answer)
    assert answer["facts"]["chosen_forum"] == "CN"


def test_a_forum_chosen_after_the_dispute_binds(as_, people):
    case_id = file(as_, people, directing_indicators=["consumer_language"])
    respond(as_, case_id, chosen_forum="CN", choice_made_after_dispute=True)

    answer = proposal(as_, case_id)
    assert answer["forum"] == "CN" and answer["forum_options"] == ["CN"]
    assert rules_of(answer)[0] == "eu.bia.19.1"


def test_a_clause_adding_a_forum_keeps_the_consumers_courts(as_, people):
    case_id = file(as_, people, directing_indicators=["consumer_language"])
    respond(as_, case_id, chosen_forum="IE", forum_clause_exclusive=False)

    answer = proposal(as_, case_id)
    assert answer["forum"] == "DE" and answer["forum_options"] == ["DE", "IE", "CN"]
    assert rules_of(answer)[0] == "eu.bia.19.2"


def test_services_are_governed_by_the_providers_law_when_not_directed(as_, people):
    case_id = file(as_, people, contract="services", **priced_in_yuan())
    respond(as_, case_id)

    answer = proposal(as_, case_id)
    assert answer["facts"]["contract"] == "services"
    assert answer["applicable_law"] == "CN"
    assert rules_of(answer)[1] == "eu.rome1.4.1.b"


def test_both_parties_agreeing_to_odr_makes_this_platform_the_forum(as_, people):
    case_id = file(as_, people, odr_agreement=True, directing_indicators=["consumer_language"])
    respond(as_, case_id, odr_agreement=True)

    answer = proposal(as_, case_id)
    assert answer["forum"] == "odr" and answer["forum_options"] == ["odr"]
    assert rules_of(answer)[0] == "eu.adr.10"  # agreed during the case: after the dispute arose
    assert "eu.adr.10.1" not in rules_of(answer)
    assert answer["facts"]["chosen_forum"] == "odr"
    assert answer["facts"]["forum_chosen_after_dispute"] is True
    assert answer["applicable_law"] == "DE"


@pytest.mark.parametrize(("consumer_agrees", "merchant_agrees"), [(True, False), (False, True)])
def test_one_partys_odr_agreement_alone_is_no_agreement(as_, people, consumer_agrees, merchant_agrees):
    case_id = file(as_, people, odr_agreement=consumer_agrees, directing_indicators=["consumer_language"])
    respond(as_, case_id, odr_agreement=merchant_agrees)

    answer = proposal(as_, case_id)
    assert answer["forum"] == "DE"
    assert "odr" not in answer["forum_options"]
    assert answer["facts"]["chosen_forum"] is None
    assert not {"eu.adr.10", "eu.adr.10.1"} & set(rules_of(answer))


def test_the_merchant_alone_cannot_plead_an_odr_agreement_the_consumer_refused(as_, people):
    case_id = file(as_, people, odr_agreement=False, directing_indicators=["consumer_language"])
    respond(as_, case_id, chosen_forum="odr", choice_made_after_dispute=True)

    answer = proposal(as_, case_id)
    assert answer["forum"] == "DE"
    assert "eu.adr.10" not in rules_of(answer)


def test_the_proposals_facts_show_the_claim_as_the_case_does(as_, people):
    case_id = file(as_, people)
    respond(as_, case_id)

    case = as_("consumer").get(f"{CASES}{case_id}/").json()
    assert proposal(as_, case_id)["facts"]["claim"] == case["claim"] == {"amount": "89.90", "currency": "EUR"}


def test_a_contradictory_pleading_is_400_and_the_case_waits(as_, people):
    case_id = file(as_, people)
    response = act(as_("merchant"), case_id, "respond", contest(forum_clause_exclusive=False))

    error = assert_error(response, 400, "invalid")
    assert "forum_clause_exclusive" in error["fields"]
    assert as_("consumer").get(f"{CASES}{case_id}/").json()["status"] == "filed"


def test_the_proposal_is_shown_to_the_case_people_only(as_, people):
    case_id = file(as_, people, directing_indicators=["consumer_language"])
    respond(as_, case_id)

    seen = {who: proposal(as_, case_id, who) for who in ("consumer", "merchant", "operator")}
    for who, answer in seen.items():
        assert answer["status"] == "proposed", who
        assert answer["forum"] == "DE" and answer["applicable_law"] == "DE", who
        assert rules_of(answer) == rules_of(seen["consumer"]), who
    for who in ("stranger", "other_merchant", "mediator"):
        assert_error(as_(who).get(jurisdiction_url(case_id)), 404, "not_found")
    assert_error(as_("consumer").get(jurisdiction_url("00000000-0000-4000-8000-000000000000")), 404, "not_found")


def test_anonymous_cannot_read_a_proposal(api, as_, people):
    case_id = file(as_, people)
    respond(as_, case_id)
    assert_error(api(None).get(jurisdiction_url(case_id)), 401, "not_authenticated")


def test_no_proposal_before_the_merchants_response(as_, people):
    case_id = file(as_, people)
    for who in ("consumer", "merchant", "operator"):
        assert_error(as_(who).get(jurisdiction_url(case_id)), 404, "not_found")
    assert as_("consumer").get(f"{CASES}{case_id}/").json()["jurisdiction"] == {}


def test_no_proposal_when_the_merchant_accepts_the_claim(as_, people):
    case_id = file(as_, people)
    response = act(as_("merchant"), case_id, "respond", {"position": "accept", "statement": "Refunded."})
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "settled"
    assert_error(as_("consumer").get(jurisdiction_url(case_id)), 404, "not_found")


def test_the_same_proposal_read_in_each_readers_language(as_, people):
    case_id = file(as_, people, directing_indicators=["consumer_language"])
    respond(as_, case_id, chosen_law="CN")

    english = proposal(as_, case_id, "consumer")
    chinese = _session_client(people["merchant"]).get(jurisdiction_url(case_id)).json()  # zh-hans
    assert rules_of(chinese) == rules_of(english)
    assert "Germany" in english["reasons"][0]["text"]
    assert "德国" in chinese["reasons"][0]["text"]
    assert all(CJK.search(r["text"]) for r in chinese["reasons"])
    assert "德国" in chinese["mandatory_protection"][0]["text"]


def test_accepted_by_both_is_agreed_and_the_case_negotiates(as_, people):
    case_id = file(as_, people, directing_indicators=["consumer_language"])
    respond(as_, case_id)

    first = act(as_("consumer"), case_id, "accept_jurisdiction")
    assert first.status_code == 200, first.content
    assert first.json()["status"] == "jurisdiction"
    assert proposal(as_, case_id)["accepted_by"] == ["consumer"]
    assert proposal(as_, case_id)["status"] == "proposed"

    second = act(as_("merchant"), case_id, "accept_jurisdiction")
    assert second.status_code == 200, second.content
    assert second.json()["status"] == "negotiation"
    answer = proposal(as_, case_id)
    assert answer["status"] == "agreed"
    assert answer["accepted_by"] == ["consumer", "merchant"]
    assert answer["forum"] == "DE" and answer["applicable_law"] == "DE"


def test_contested_then_decided_by_the_operator(as_, people):
    case_id = file(as_, people, directing_indicators=["consumer_language"])
    respond(as_, case_id, chosen_law="CN")
    engine = proposal(as_, case_id)

    contested = act(as_("merchant"), case_id, "contest_jurisdiction", {"reason": "Our terms choose Chinese courts."})
    assert contested.status_code == 200, contested.content
    answer = proposal(as_, case_id)
    assert answer["status"] == "contested"
    assert answer["contested_by"] == "merchant"
    assert contested.json()["status"] == "jurisdiction"

    reason = "The merchant sells to Germany in German; German law protects the consumer fully."
    decided = act(
        as_("operator"), case_id, "decide_jurisdiction", {"forum": "de", "applicable_law": "de", "reason": reason}
    )
    assert decided.status_code == 200, decided.content
    assert decided.json()["status"] == "negotiation"

    answer = proposal(as_, case_id)
    assert answer["status"] == "decided"
    assert answer["forum"] == "DE" and answer["applicable_law"] == "DE"
    assert answer["forum_options"] == ["DE"]
    assert answer["reasons"][0]["text"] == reason
    assert answer["reasons"][0]["kind"] == "decision"
    assert answer["decided_by"] == "operator"
    # The engine's proposal is kept beside the decision that departs from it.
    assert answer["proposal"]["forum"] == engine["forum"] == "DE"
    assert answer["proposal"]["applicable_law"] == engine["applicable_law"] == "CN"
    assert [r["rule"] for r in answer["proposal"]["reasons"]] == rules_of(engine)


def running(case_id, kind) -> Deadline:
    return Deadline.objects.get(case_id=case_id, kind=kind, status="running")


def test_an_uncontested_proposal_is_confirmed_when_the_objection_period_ends(as_, people):
    case_id = file(as_, people, directing_indicators=["consumer_language"])
    respond(as_, case_id, chosen_law="CN")
    engine = proposal(as_, case_id)
    due = running(case_id, "jurisdiction_objections").due_at

    with time_machine.travel(due - dt.timedelta(minutes=1), tick=False):
        sweep_all()
    assert proposal(as_, case_id)["status"] == "proposed"  # not yet

    with time_machine.travel(due + dt.timedelta(minutes=1), tick=False):
        sweep_all()

    answer = proposal(as_, case_id)
    assert answer["status"] == "decided"
    assert answer["decided_by"] == "platform"
    assert answer["reasons"][0]["rule"] == "odr.no_objection"
    assert answer["reasons"][0]["kind"] == "decision"
    assert answer["reasons"][0]["text"]
    assert rules_of(answer)[1:] == rules_of(engine)  # the proposal's own reasons follow
    assert answer["forum"] == engine["forum"] == "DE"
    assert answer["applicable_law"] == engine["applicable_law"] == "CN"
    assert answer["forum_options"] == engine["forum_options"]
    assert answer["proposal"]["forum"] == "DE" and answer["proposal"]["applicable_law"] == "CN"
    assert as_("consumer").get(f"{CASES}{case_id}/").json()["status"] == "negotiation"
    decided = [e for e in events(as_("consumer"), case_id) if e["type"] == "decide_jurisdiction"]
    assert [e["payload"]["rule"] for e in decided] == ["odr.no_objection"]
    assert decided[0]["actor_role"] == "system"


def test_a_contested_proposal_waits_for_a_decision_when_the_period_ends(as_, people):
    case_id = file(as_, people, directing_indicators=["consumer_language"])
    respond(as_, case_id)
    contested = act(as_("consumer"), case_id, "contest_jurisdiction", {"reason": "I want the platform to decide."})
    assert contested.status_code == 200, contested.content
    due = running(case_id, "jurisdiction_objections").due_at

    with time_machine.travel(due + dt.timedelta(minutes=1), tick=False):
        sweep_all()

    case = as_("consumer").get(f"{CASES}{case_id}/").json()
    assert case["status"] == "jurisdiction"
    answer = proposal(as_, case_id)
    assert answer["status"] == "contested"
    assert answer["contested_by"] == "consumer"
    fired = [e for e in events(as_("operator"), case_id) if e["type"] == "deadline_fired"]
    assert [e["payload"]["kind"] for e in fired] == ["jurisdiction_objections"]
    assert fired[0]["payload"]["status"] == "jurisdiction"
    assert Deadline.objects.get(case_id=case_id, kind="jurisdiction_objections").status == "fired"
    assert "decide_jurisdiction" in as_("operator").get(f"{CASES}{case_id}/").json()["allowed_actions"]
