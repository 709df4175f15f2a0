"""Who sees a case: every role against every case endpoint (API.md: 404 is "not found *or not visible to you*").

The rule (cases/policies.py): the consumer sees its own cases, drafts included; users of the merchant
organisation see its non-draft cases; a mediator or arbitrator sees the non-draft cases they are assigned to;
operators see every non-draft case; a draft is seen by its consumer only. Anyone else gets 404 with
``error.code == "not_found"`` from every case endpoint, and never finds the case in a list.

Every lifecycle action's endpoint is in the matrix, the neutrals' ``disclose`` and the operator's
``decide_challenge``, ``decide_compliance`` and ``declare_non_compliance`` included, in every state (a case
not complied with too); a neutral whose challenge is upheld leaves the case and sees it no more.
"""

import uuid

import pytest
from django.contrib.auth.models import AnonymousUser

from accounts.models import Role, User
from cases import policies, selectors, services
from cases.models import ACTIONS, Case
from mediation.services import neutral_profile_set
from odr.errors import NotFound
from tests.factories import ALL_STATES, Cast, case_in, file_case, merchant_colleague, user

#: The states in which ``case_in`` has assigned the cast's mediator / arbitrator.
MEDIATOR_ASSIGNED = {"mediation", "arbitration", "awarded"}
ARBITRATOR_ASSIGNED = {"arbitration", "awarded"}

INSIDER_ROLES = ["consumer", "merchant", "merchant colleague", "mediator", "arbitrator", "operator"]


def case_endpoints(case_id):
    """Every endpoint addressing one case: (method, path)."""
    base = f"/api/v1/cases/{case_id}/"
    yield "GET", base
    yield "GET", f"{base}events/"
    for action in ACTIONS:
        yield "POST", f"{base}actions/{action}/"


def test_the_matrix_has_an_endpoint_for_every_lifecycle_action():
    posted = {path.rstrip("/").rsplit("/", 1)[-1] for method, path in case_endpoints("x") if method == "POST"}
    assert posted == set(ACTIONS)
    assert {
        "disclose",
        "decide_challenge",
        "challenge_neutral",
        "decide_compliance",
        "declare_non_compliance",
    } <= posted


def call(client, method, path):
    if method == "GET":
        return client.get(path)
    return client.post(path, {}, format="json")


def listed_ids(client, query="") -> list[str]:
    """Every case id GET /api/v1/cases/ shows this client, following the cursor to the end."""
    ids, url = [], f"/api/v1/cases/{query}"
    while url:
        response = client.get(url)
        assert response.status_code == 200, response.content
        body = response.json()
        ids += [item["id"] for item in body["results"]]
        url = body["next"]
    return ids


LIST_QUERIES = ["", "?status={state}", "?status=" + ",".join(ALL_STATES)]


def is_not_found(response) -> bool:
    if response.status_code != 404:
        return False
    error = response.json().get("error", {})
    return error.get("code") == "not_found" and "message" in error


def hidden_from(client, case) -> list:
    """What ``client`` can learn about ``case``; empty when every endpoint answers 404 and no list shows it."""
    leaks = []
    for method, path in case_endpoints(case.pk):
        response = call(client, method, path)
        if not is_not_found(response):
            leaks.append((method, path, response.status_code, response.content[:200]))
    for query in LIST_QUERIES:
        query = query.format(state=case.status)
        if str(case.pk) in listed_ids(client, query):
            leaks.append(("listed by GET /api/v1/cases/", query))
    return leaks


@pytest.fixture
def outsiders(db) -> dict[str, User]:
    """A second, complete set of users of every role, none of them related to the cast's cases."""
    other = Cast.make()
    return {
        "consumer": other.consumer,
        "merchant of another organisation": other.merchant,
        "colleague at another organisation": merchant_colleague(other.merchant),
        "unassigned mediator": other.mediator,
        "unassigned arbitrator": other.arbitrator,
    }


def insiders(cast) -> dict[str, User]:
    return {
        "consumer": cast.consumer,
        "merchant": cast.merchant,
        "merchant colleague": merchant_colleague(cast.merchant),
        "mediator": cast.mediator,
        "arbitrator": cast.arbitrator,
        "operator": cast.operator,
    }


def should_see(role: str, state: str) -> bool:
    """The documented rule, written out per role of the cast."""
    if role == "consumer":
        return True
    if state == "draft":
        return False
    if role == "mediator":
        return state in MEDIATOR_ASSIGNED
    if role == "arbitrator":
        return state in ARBITRATOR_ASSIGNED
    return True  # the merchant's users and the operator


@pytest.mark.parametrize("state", ALL_STATES)
def test_outsiders_of_every_role_get_404_everywhere_and_never_see_the_case_listed(cast, outsiders, api, state):
    case = case_in(state, cast)
    chain_before = list(case.events.order_by("seq").values_list("hash", flat=True))

    leaks = {role: hidden_from(api(outsider), case) for role, outsider in outsiders.items()}

    assert {role: found for role, found in leaks.items() if found} == {}
    case.refresh_from_db()
    assert case.status == state, "an outsider's action changed the case"
    assert list(case.events.order_by("seq").values_list("hash", flat=True)) == chain_before


@pytest.mark.parametrize("state", ALL_STATES)
def test_insiders_see_the_case_and_its_events_and_only_where_the_rule_says(cast, api, state):
    case = case_in(state, cast)
    events_in_db = case.events.count()
    wrong = []
    for role, insider in insiders(cast).items():
        client = api(insider)
        if not should_see(role, state):
            wrong += [(role, leak) for leak in hidden_from(client, case)]
            continue
        detail = client.get(f"/api/v1/cases/{case.pk}/")
        events = client.get(f"/api/v1/cases/{case.pk}/events/")
        if detail.status_code != 200 or detail.json()["id"] != str(case.pk) or detail.json()["status"] != state:
            wrong.append((role, "detail", detail.status_code, detail.content[:200]))
        if events.status_code != 200 or [e["seq"] for e in events.json()["results"]] != list(
            range(1, events_in_db + 1)
        ):
            wrong.append((role, "events", events.status_code, events.content[:200]))
        for query in LIST_QUERIES:
            if str(case.pk) not in listed_ids(client, query.format(state=state)):
                wrong.append((role, "not listed", query))
        other_status = "closed" if state != "closed" else "filed"
        if str(case.pk) in listed_ids(client, f"?status={other_status}"):
            wrong.append((role, "listed under the wrong status", other_status))
    assert wrong == []


def test_drafts_are_seen_by_their_consumer_only(cast, outsiders, api):
    draft = case_in("draft", cast)
    colleague = merchant_colleague(cast.merchant)

    for role, viewer in {
        "operator": cast.operator,
        "merchant": cast.merchant,
        "merchant colleague": colleague,
        **outsiders,
    }.items():
        client = api(viewer)
        assert client.get(f"/api/v1/cases/{draft.pk}/").status_code == 404, role
        assert client.get(f"/api/v1/cases/{draft.pk}/events/").status_code == 404, role
        assert str(draft.pk) not in listed_ids(client, "?status=draft"), role
        assert str(draft.pk) not in listed_ids(client), role

    own = api(cast.consumer)
    response = own.get(f"/api/v1/cases/{draft.pk}/")
    assert response.status_code == 200
    assert response.json()["status"] == "draft"
    assert str(draft.pk) in listed_ids(own, "?status=draft")


def test_an_invisible_case_answers_exactly_like_one_that_does_not_exist(cast, outsiders, api):
    case = case_in("mediation", cast)
    client = api(outsiders["unassigned mediator"])
    for (method, hidden_path), (_, missing_path) in zip(
        case_endpoints(case.pk), case_endpoints(uuid.uuid4()), strict=True
    ):
        hidden, missing = call(client, method, hidden_path), call(client, method, missing_path)
        assert hidden.status_code == missing.status_code == 404, hidden_path
        assert hidden.json() == missing.json(), hidden_path


def test_anonymous_gets_401_from_every_endpoint(cast, api):
    case = case_in("filed", cast)
    anonymous = api(None)
    requests = [
        *case_endpoints(case.pk),
        *case_endpoints(uuid.uuid4()),
        ("GET", "/api/v1/cases/"),
        ("GET", "/api/v1/cases/?status=filed"),
        ("POST", "/api/v1/cases/"),
        ("GET", "/api/v1/me/"),
        ("GET", "/api/v1/merchants/"),
        ("GET", "/api/v1/merchants/?search=Shop"),
        ("POST", "/api/v1/neutrals/"),
    ]
    wrong = []
    for method, path in requests:
        response = call(anonymous, method, path)
        body = response.json()
        if response.status_code != 401 or body.get("error", {}).get("code") != "not_authenticated":
            wrong.append((method, path, response.status_code, body))
        elif not response.headers.get("WWW-Authenticate", "").startswith("Token"):
            wrong.append((method, path, "no WWW-Authenticate: Token"))
    assert wrong == []


def test_a_bad_token_is_refused_with_401(cast, api):
    case = case_in("filed", cast)
    client = api(None)
    client.credentials(HTTP_AUTHORIZATION="Token " + "0" * 40)
    for path in (f"/api/v1/cases/{case.pk}/", "/api/v1/cases/", "/api/v1/me/"):
        response = client.get(path)
        assert response.status_code == 401, path
        assert response.json()["error"]["code"] == "authentication_failed"
        assert case.reference not in response.content.decode()


def test_a_deactivated_party_loses_access(cast, api):
    case = case_in("filed", cast)
    client = api(cast.consumer)
    assert client.get(f"/api/v1/cases/{case.pk}/").status_code == 200
    cast.consumer.is_active = False
    cast.consumer.save(update_fields=["is_active"])

    response = client.get(f"/api/v1/cases/{case.pk}/")

    assert response.status_code == 401
    assert case.reference not in response.content.decode()


def _challenge_decided(cast, case, *, upheld: bool) -> Case:
    services.case_challenge_neutral(actor=cast.merchant, case_id=case.pk, reason="The neutral knows the consumer.")
    return services.case_decide_challenge(actor=cast.operator, case_id=case.pk, upheld=upheld, reason="Decided.")


@pytest.mark.parametrize("upheld", [True, False], ids=["upheld", "dismissed"])
@pytest.mark.parametrize("state", ["mediation", "arbitration"])
def test_an_upheld_challenge_ends_the_neutrals_access_a_dismissed_one_does_not(cast, api, state, upheld):
    """Nobody is on the roster here: an upheld challenge leaves the case without that neutral; everyone
    else sees it as before."""
    case = case_in(state, cast)
    challenged = "mediator" if state == "mediation" else "arbitrator"

    case = _challenge_decided(cast, case, upheld=upheld)

    assert case.status == state
    wrong = []
    for role, insider in insiders(cast).items():
        client = api(insider)
        if not should_see(role, state) or (upheld and role == challenged):
            wrong += [(role, leak) for leak in hidden_from(client, case)]
            continue
        detail = client.get(f"/api/v1/cases/{case.pk}/")
        if detail.status_code != 200 or str(case.pk) not in listed_ids(client, f"?status={state}"):
            wrong.append((role, detail.status_code))
    assert wrong == []


@pytest.mark.parametrize("state", ["filed", "jurisdiction", "mediation", "arbitration", "awarded", "closed"])
def test_the_merchant_never_receives_the_consumers_email_address(cast, api, state):
    case = case_in(state, cast)
    email = cast.consumer.email
    for viewer in (cast.merchant, merchant_colleague(cast.merchant)):
        client = api(viewer)
        bodies = [
            client.get(f"/api/v1/cases/{case.pk}/"),
            client.get(f"/api/v1/cases/{case.pk}/events/"),
            client.get("/api/v1/cases/"),
            client.get(f"/api/v1/cases/?status={state}"),
        ]
        assert [r.status_code for r in bodies] == [200] * 4
        for response in bodies:
            text = response.content.decode()
            assert case.reference in text
            assert email not in text
            assert email.split("@")[0] not in text


def test_the_merchants_action_response_does_not_carry_the_consumers_email_address(cast, api):
    case = case_in("filed", cast)

    response = api(cast.merchant).post(
        f"/api/v1/cases/{case.pk}/actions/respond/",
        {"position": "contest", "statement": "It was delivered on 3 October."},
        format="json",
    )

    assert response.status_code == 200, response.content
    assert response.json()["status"] == "jurisdiction"
    assert cast.consumer.email not in response.content.decode()


# --- the invariant the code depends on: the list selector and the policy give one answer ----------
def documented_rule(viewer, case) -> bool:
    if not viewer.is_authenticated or not viewer.is_active:
        return False
    if viewer.pk == case.consumer_id:
        return True
    if case.status == "draft":
        return False
    return {
        "merchant": viewer.organisation_id == case.merchant_id,
        "mediator": viewer.pk == case.mediator_id,
        "arbitrator": viewer.pk == case.arbitrator_id,
        "operator": True,
    }.get(viewer.role, False)


def mixed_population():
    """Cases of three casts in every state, a replaced mediator, colleagues, loners and deactivated users."""
    first, second, third = Cast.make(), Cast.make(), Cast.make()
    cases = [case_in(state, first) for state in ALL_STATES]
    cases += [case_in(state, second) for state in ("draft", "filed", "mediation", "arbitration", "settled")]
    # The same organisation's merchant in two casts would be another test; here: a mediator replaced.
    replaced = case_in("mediation", third)
    new_mediator = user("mediator")
    cases.append(services.case_assign_mediator(actor=third.operator, case_id=replaced.pk, user_id=new_mediator.pk))
    cases.append(case_in("draft", third))
    # An arbitrator removed by an upheld challenge (nobody on the roster to replace them), and a mediator
    # the roster appointed in place of one whose challenge was upheld.
    cases.append(_challenge_decided(second, case_in("arbitration", second), upheld=True))
    rostered = user("mediator")
    neutral_profile_set(user=rostered, languages=["en", "zh-hans"])
    cases.append(_challenge_decided(third, case_in("mediation", third), upheld=True))
    assert (cases[-2].arbitrator_id, cases[-1].mediator_id) == (None, rostered.pk)
    # A deactivated consumer and a deactivated operator see nothing, not even their own case.
    User.objects.filter(pk__in=[third.consumer.pk, second.operator.pk]).update(is_active=False)

    users = [
        *(getattr(c, role) for c in (first, second, third) for role in Cast.__dataclass_fields__),
        merchant_colleague(first.merchant),
        merchant_colleague(second.merchant),
        new_mediator,
        rostered,
        *(user(role) for role in ("consumer", "merchant", "mediator", "arbitrator", "operator")),
    ]
    users = [User.objects.get(pk=u.pk) for u in users]  # fresh from the database, is_active included
    return [Case.objects.get(pk=c.pk) for c in cases], [AnonymousUser(), *users]


def test_list_selector_get_selector_and_policy_agree_for_every_user_and_case(db):
    cases, users = mixed_population()
    assert {c.status for c in cases} == set(ALL_STATES)
    assert "non_compliant" in ALL_STATES
    disagreements = []
    for viewer in users:
        listed = set(selectors.case_list_for(viewer).values_list("pk", flat=True))
        for case in cases:
            allowed = policies.can_view(viewer, case)
            try:
                selectors.case_get_for(viewer, case.pk)
                fetched = True
            except NotFound:
                fetched = False
            expected = documented_rule(viewer, case)
            if not (allowed == (case.pk in listed) == fetched == expected):
                disagreements.append((str(viewer), viewer.is_active, case.status, allowed, case.pk in listed, fetched))
            if not allowed and policies.allowed_actions(viewer, case):
                disagreements.append((str(viewer), case.status, "actions offered on an invisible case"))
        for state in ALL_STATES:
            by_status = set(selectors.case_list_for(viewer, status=state).values_list("pk", flat=True))
            if by_status != {c.pk for c in cases if c.status == state and c.pk in listed}:
                disagreements.append((str(viewer), "status filter", state))
    assert disagreements == []


def test_a_merchant_user_lists_their_own_consumer_cases_beside_the_organisations(db):
    """The case list drops the "own cases" branch for role users who have none (a faster plan); one who
    does (a consumer who later joined a merchant's staff) still lists them, their draft included."""
    cast, other = Cast.make(), Cast.make()
    own_draft, own_filed = file_case(cast, submit=False), file_case(cast)
    org_filed, _org_draft = file_case(other), file_case(other, submit=False)
    User.objects.filter(pk=cast.consumer.pk).update(role=Role.MERCHANT, organisation=other.merchant.organisation)
    joined = User.objects.get(pk=cast.consumer.pk)
    colleague = merchant_colleague(other.merchant)

    assert set(selectors.case_list_for(joined).values_list("pk", flat=True)) == {
        own_draft.pk,
        own_filed.pk,
        org_filed.pk,
    }
    assert list(selectors.case_list_for(colleague).values_list("pk", flat=True)) == [org_filed.pk]
    assert list(selectors.case_list_for(other.merchant, status="draft")) == []
