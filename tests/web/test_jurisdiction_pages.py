"""The jurisdiction stage in the browser's pages: the filing form's questions, the merchant's pleading in
the response form, and the case page's explanation in each reader's language."""

import pytest

from accounts import services as accounts
from cases.models import Case
from tests.factories import Cast, user
from tests.web.test_pages import filing_form, text, web


@pytest.fixture
def cast(db) -> Cast:
    cast = Cast.make()
    for person in vars(cast).values():
        accounts.user_set_language(user=person, language="en")
        person.language = "en"
    return cast


def _file(cast, **overrides) -> Case:
    response = web(cast.consumer).post("/cases/new/", filing_form(cast.merchant.organisation_id, **overrides))
    assert response.status_code == 302, text(response)
    return Case.objects.get()


def test_filing_form_asks_the_facts_and_keeps_them(cast):
    page = text(web(cast.consumer).get("/cases/new/"))
    assert "What did the shop do to sell to your country?" in page
    assert "ships to the consumer's country" in page
    case = _file(
        cast,
        directing_indicators=["delivers_to_consumer_country", "site_aimed_at_consumer_country"],
        contract="goods",
        odr_agreement="on",
    )
    assert case.jurisdiction_facts == {
        "directing_indicators": ["delivers_to_consumer_country", "site_aimed_at_consumer_country"],
        "contract": "goods",
        "consumer_odr_agreement": True,
    }


def test_filing_form_refuses_an_unknown_indicator_and_writes_nothing(cast):
    response = web(cast.consumer).post(
        "/cases/new/", filing_form(cast.merchant.organisation_id, directing_indicators=["bribed_the_judge"])
    )
    assert response.status_code == 200
    assert "not one of the available choices" in text(response)
    assert not Case.objects.exists()


def test_merchant_pleads_a_choice_of_law_and_the_page_explains_the_proposal(cast):
    # A Spanish consumer, a Chinese merchant, an order in euros on a site aimed at Spain.
    case = _file(cast, directing_indicators=["site_aimed_at_consumer_country"], price_currency="EUR")
    merchant = web(cast.merchant)
    form = text(merchant.get(f"/cases/{case.pk}/"))
    assert "Law chosen in your terms of sale" in form and "What the forum clause says" in form
    response = merchant.post(
        f"/cases/{case.pk}/actions/respond/",
        {
            "position": "contest",
            "statement": "Our terms choose Chinese law and the courts of Shenzhen.",
            "chosen_law": "CN",
            "chosen_forum": "CN",
            "forum_clause_exclusive": "true",
        },
    )
    assert response.status_code == 302
    case.refresh_from_db()
    assert (case.status, case.jurisdiction["forum"], case.jurisdiction["applicable_law"]) == (
        "jurisdiction",
        "ES",
        "CN",
    )
    page = text(web(cast.consumer).get(f"/cases/{case.pk}/"))
    assert "Who hears the dispute: the courts of Spain" in page
    assert "Which law governs the contract: the law of China" in page
    assert "The mandatory consumer protection of the law of Spain is retained." in page
    assert "art. 6(2)" in page and "art. 19" in page  # Rome I and Brussels Ia cited
    assert "does not bind the consumer" in page  # the forum clause made before the dispute
    assert "Hague Convention of 30 June 2005" in page
    assert "not legal advice" in page


def test_the_case_page_speaks_the_readers_language(cast):
    case = _file(cast, directing_indicators=["delivers_to_consumer_country"])
    web(cast.merchant).post(f"/cases/{case.pk}/actions/respond/", {"position": "contest", "statement": "No."})
    accounts.user_set_language(user=cast.consumer, language="zh-hans")
    page = text(web(cast.consumer).get(f"/cases/{case.pk}/"))
    assert "争议解决机构和适用法律" in page
    assert "西班牙" in page  # Spain, named in Chinese inside the engine's reasons
    assert "商家将其经营活动指向西班牙" in page
    english = text(web(cast.merchant).get(f"/cases/{case.pk}/"))
    assert "The merchant directed its activity to Spain" in english


def test_a_contested_proposal_is_decided_by_the_operator_with_reasons(cast):
    case = _file(cast, directing_indicators=["delivers_to_consumer_country"])
    web(cast.merchant).post(f"/cases/{case.pk}/actions/respond/", {"position": "contest", "statement": "No."})
    web(cast.merchant).post(f"/cases/{case.pk}/actions/contest_jurisdiction/", {"reason": "We never shipped to Spain."})
    operator = web(cast.operator)
    assert "Decide the forum and applicable law" in text(operator.get(f"/cases/{case.pk}/"))
    response = operator.post(
        f"/cases/{case.pk}/actions/decide_jurisdiction/",
        {"forum": "CN", "applicable_law": "CN", "reason": "The tracking shows delivery in Hong Kong, not Spain."},
    )
    assert response.status_code == 302
    page = text(web(cast.consumer).get(f"/cases/{case.pk}/"))
    assert "Operator: The tracking shows delivery in Hong Kong, not Spain." in page
    assert "What the platform had proposed" in page
    assert "Who hears the dispute: the courts of China" in page
    case.refresh_from_db()
    assert case.status == "negotiation"
    assert case.jurisdiction["proposal"]["forum"] == "ES"


def test_an_outsider_sees_no_proposal(cast):
    case = _file(cast, directing_indicators=["delivers_to_consumer_country"])
    web(cast.merchant).post(f"/cases/{case.pk}/actions/respond/", {"position": "contest", "statement": "No."})
    stranger = user("consumer", country="FR", time_zone="Europe/Paris")
    assert web(stranger).get(f"/cases/{case.pk}/").status_code == 404
