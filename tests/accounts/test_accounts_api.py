"""Accounts through the API and the command line: registration, tokens, the profile, the merchant directory,
accounts for neutrals, and the throttles on the anonymous endpoints and on filing."""

import pytest
from django.core.management import CommandError, call_command
from rest_framework.authtoken.models import Token
from rest_framework.throttling import SimpleRateThrottle

from accounts.models import MerchantOrganisation, User
from cases.models import Case
from tests.factories import PASSWORD, filing_body, user

REGISTER = "/api/v1/auth/register/"
TOKEN = "/api/v1/auth/token/"
STRONG = "Plum-Tree-Lantern-93"


def consumer_body(**overrides) -> dict:
    body = {
        "email": "ana.garcia@example.test",
        "password": STRONG,
        "role": "consumer",
        "display_name": "Ana García",
        "country": "ES",
        "time_zone": "Europe/Madrid",
        "language": "en",
    }
    body.update(overrides)
    return body


def merchant_body(**overrides) -> dict:
    body = {
        "email": "support@lantern-goods.test",
        "password": STRONG,
        "role": "merchant",
        "display_name": "Lantern support",
        "country": "CN",
        "time_zone": "Asia/Shanghai",
        "language": "zh-hans",
        "legal_name": "Shenzhen Lantern Goods Co., Ltd.",
    }
    body.update(overrides)
    return body


def db_state() -> dict:
    return {
        "users": User.objects.count(),
        "organisations": MerchantOrganisation.objects.count(),
        "tokens": Token.objects.count(),
    }


def assert_error(response, status, code):
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "fields"}
    assert body["error"]["code"] == code
    assert body["error"]["message"]
    return body["error"]


# --- registration ------------------------------------------------------------------------------
def test_a_consumer_registers_and_signs_in(api, db):
    client = api(None)

    response = client.post(REGISTER, consumer_body(email="Ana.Garcia@Example.TEST"), format="json")

    assert response.status_code == 201, response.content
    profile = response.json()
    assert profile["email"] == "ana.garcia@example.test"
    assert profile["role"] == "consumer"
    assert profile["country"] == "ES"
    assert profile["time_zone"] == "Europe/Madrid"
    assert profile["organisation"] is None
    assert "password" not in profile
    assert STRONG not in response.content.decode()
    created = User.objects.get(pk=profile["id"])
    assert created.check_password(STRONG)
    assert created.password != STRONG

    token = client.post(TOKEN, {"email": "ana.garcia@example.test", "password": STRONG}, format="json")
    assert token.status_code == 200, token.content
    assert token.json() == {"token": Token.objects.get(user=created).key}
    me = api(None)
    me.credentials(HTTP_AUTHORIZATION=f"Token {token.json()['token']}")
    assert me.get("/api/v1/me/").json()["id"] == created.pk


def test_a_merchant_registers_with_its_organisation_and_is_found_in_the_directory(api, db):
    response = api(None).post(REGISTER, merchant_body(), format="json")

    assert response.status_code == 201, response.content
    profile = response.json()
    assert profile["role"] == "merchant"
    organisation = profile["organisation"]
    assert organisation["legal_name"] == "Shenzhen Lantern Goods Co., Ltd."
    assert organisation["country"] == "CN"
    assert organisation["time_zone"] == "Asia/Shanghai"
    assert MerchantOrganisation.objects.get(pk=organisation["id"]).users.get().pk == profile["id"]

    searcher = api(user("consumer"))
    found = searcher.get("/api/v1/merchants/?search=lantern")
    assert found.status_code == 200
    assert found.json()["results"] == [
        {"id": organisation["id"], "legal_name": "Shenzhen Lantern Goods Co., Ltd.", "country": "CN"}
    ]
    assert set(found.json()) >= {"results", "next", "previous"}
    assert searcher.get("/api/v1/merchants/?search=no-such-shop-anywhere").json()["results"] == []
    everyone = [m["id"] for m in searcher.get("/api/v1/merchants/").json()["results"]]
    assert organisation["id"] in everyone


def test_the_registered_merchant_can_be_filed_against(api, db):
    organisation = api(None).post(REGISTER, merchant_body(), format="json").json()["organisation"]
    consumer = user("consumer")

    response = api(consumer).post("/api/v1/cases/", filing_body(organisation["id"]), format="json")

    assert response.status_code == 201, response.content
    assert response.json()["merchant"] == {
        "id": organisation["id"],
        "legal_name": "Shenzhen Lantern Goods Co., Ltd.",
        "country": "CN",
    }


#: (id, body, field expected in error.fields)
BAD_REGISTRATIONS = [
    ("unknown country", consumer_body(country="XX"), "country"),
    ("unknown merchant country", merchant_body(country="XX"), "country"),
    ("unknown time zone", consumer_body(time_zone="Mars/Olympus"), "time_zone"),
    ("unknown merchant time zone", merchant_body(time_zone="Mars/Olympus"), "time_zone"),
    ("unsupported language", consumer_body(language="fr"), "language"),
    ("short password", consumer_body(password="Ab1-x"), "password"),
    ("common password", consumer_body(password="password"), "password"),
    ("numeric password", consumer_body(password="73920148561"), "password"),
    ("password like the e-mail", consumer_body(email="ana.garcia@example.test", password="ana.garcia"), "password"),
    ("weak merchant password", merchant_body(password="password"), "password"),
    ("self-registered operator", consumer_body(role="operator"), "role"),
    ("self-registered mediator", consumer_body(role="mediator"), "role"),
    ("self-registered arbitrator", consumer_body(role="arbitrator"), "role"),
    ("unknown role", consumer_body(role="admin"), "role"),
    ("merchant without legal name", {k: v for k, v in merchant_body().items() if k != "legal_name"}, "legal_name"),
    ("merchant with blank legal name", merchant_body(legal_name=""), "legal_name"),
    ("not an e-mail address", consumer_body(email="ana-at-example"), "email"),
    *(
        (f"missing {field}", {k: v for k, v in consumer_body().items() if k != field}, field)
        for field in ("email", "password", "role", "display_name", "country", "time_zone")
    ),
]


@pytest.mark.parametrize(("body", "field"), [b[1:] for b in BAD_REGISTRATIONS], ids=[b[0] for b in BAD_REGISTRATIONS])
def test_bad_registrations_are_refused_with_field_errors_and_nothing_written(api, db, body, field):
    before = db_state()

    response = api(None).post(REGISTER, body, format="json")

    error = assert_error(response, 400, "invalid")
    assert field in error["fields"], error["fields"]
    assert all(isinstance(m, str) and m for m in error["fields"][field])
    assert db_state() == before


@pytest.mark.parametrize("body", [consumer_body, merchant_body], ids=["consumer", "merchant"])
def test_a_duplicate_email_is_refused_whatever_its_case_and_nothing_written(api, db, body):
    client = api(None)
    assert client.post(REGISTER, consumer_body(email="taken@example.test"), format="json").status_code == 201
    before = db_state()

    response = client.post(REGISTER, body(email="Taken@EXAMPLE.test"), format="json")

    error = assert_error(response, 400, "invalid")
    assert set(error["fields"]) == {"email"}
    assert db_state() == before


# --- tokens ------------------------------------------------------------------------------------
def test_the_token_endpoint_gives_the_users_token_and_it_works(api, db):
    consumer = user("consumer")

    response = api(None).post(TOKEN, {"email": consumer.email.upper(), "password": PASSWORD}, format="json")

    assert response.status_code == 200, response.content
    key = response.json()["token"]
    assert key == Token.objects.get(user=consumer).key
    again = api(None).post(TOKEN, {"email": consumer.email, "password": PASSWORD}, format="json")
    assert again.json()["token"] == key
    client = api(None)
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert client.get("/api/v1/me/").json()["email"] == consumer.email


@pytest.mark.parametrize(
    "credentials",
    [
        lambda u: {"email": u.email, "password": "Wrong-Password-1"},
        lambda u: {"email": "nobody@example.test", "password": PASSWORD},
        lambda u: {"email": u.email, "password": PASSWORD.lower()},
        lambda u: {"email": u.email, "password": ""},
        lambda u: {"email": u.email},
        lambda u: {"password": PASSWORD},
        lambda u: {"email": "not-an-address", "password": PASSWORD},
    ],
    ids=["wrong password", "unknown e-mail", "password in the wrong case", "empty password", "no password",
         "no e-mail", "malformed e-mail"],
)  # fmt: skip
def test_bad_credentials_answer_400_in_the_error_shape_and_leak_no_token(api, db, credentials):
    consumer = user("consumer")
    existing = Token.objects.create(user=consumer).key
    before = db_state()

    response = api(None).post(TOKEN, credentials(consumer), format="json")

    assert response.status_code == 400, response.content
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "fields"}
    assert "token" not in body
    assert existing not in response.content.decode()
    assert PASSWORD not in response.content.decode()
    assert db_state() == before


def test_wrong_password_and_unknown_email_are_indistinguishable(api, db):
    consumer = user("consumer")
    client = api(None)

    wrong_password = client.post(TOKEN, {"email": consumer.email, "password": "Wrong-1-pass"}, format="json")
    unknown = client.post(TOKEN, {"email": "ghost@example.test", "password": "Wrong-1-pass"}, format="json")

    assert wrong_password.status_code == unknown.status_code == 400
    assert wrong_password.json() == unknown.json()
    assert wrong_password.json()["error"]["code"] == "invalid_credentials"


def test_a_deactivated_user_gets_no_token(api, db):
    consumer = user("consumer")
    User.objects.filter(pk=consumer.pk).update(is_active=False)

    response = api(None).post(TOKEN, {"email": consumer.email, "password": PASSWORD}, format="json")

    assert response.status_code == 400
    assert "token" not in response.json()
    assert not Token.objects.filter(user=consumer).exists()


# --- the profile -------------------------------------------------------------------------------
@pytest.mark.parametrize("role", ["consumer", "merchant", "mediator", "arbitrator", "operator"])
def test_me_shows_the_profile_role_and_organisation(cast, api, role):
    person = getattr(cast, role)

    response = api(person).get("/api/v1/me/")

    assert response.status_code == 200
    me = response.json()
    assert me["id"] == person.pk
    assert me["email"] == person.email
    assert me["role"] == role
    assert me["country"] == person.country.code
    assert me["time_zone"] == person.time_zone
    assert me["language"] == person.language
    assert "password" not in me
    if role == "merchant":
        assert me["organisation"]["id"] == person.organisation_id
        assert me["organisation"]["legal_name"] == person.organisation.legal_name
    else:
        assert me["organisation"] is None


# --- accounts for neutrals ---------------------------------------------------------------------
def neutral_body(**overrides) -> dict:
    body = {
        "email": "Mediator.New@example.test",
        "password": STRONG,
        "role": "mediator",
        "display_name": "Siobhán Murphy",
        "country": "IE",
        "time_zone": "Europe/Dublin",
        "language": "en",
    }
    body.update(overrides)
    return body


@pytest.mark.parametrize("role", ["mediator", "arbitrator", "operator"])
def test_an_operator_creates_neutral_and_operator_accounts(cast, api, role):
    response = api(cast.operator).post("/api/v1/neutrals/", neutral_body(role=role), format="json")

    assert response.status_code == 201, response.content
    created = User.objects.get(pk=response.json()["id"])
    assert created.role == role
    assert created.email == "mediator.new@example.test"
    assert created.time_zone == "Europe/Dublin"
    assert created.organisation is None
    assert created.check_password(STRONG)
    assert created.is_staff is (role == "operator")
    assert STRONG not in response.content.decode()
    token = api(None).post(TOKEN, {"email": "mediator.new@example.test", "password": STRONG}, format="json")
    assert token.status_code == 200


@pytest.mark.parametrize("role", ["consumer", "merchant", "mediator", "arbitrator"])
def test_nobody_but_an_operator_creates_neutral_accounts(cast, api, role):
    client = api(getattr(cast, role))
    before = db_state()

    response = client.post("/api/v1/neutrals/", neutral_body(), format="json")

    assert_error(response, 403, "forbidden")
    assert db_state() == before
    assert not User.objects.filter(email="mediator.new@example.test").exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (neutral_body(role="consumer"), "role"),
        (neutral_body(role="merchant"), "role"),
        (neutral_body(time_zone="Mars/Olympus"), "time_zone"),
        (neutral_body(country="XX"), "country"),
        (neutral_body(password="password"), "password"),
    ],
    ids=["consumer", "merchant", "time zone", "country", "weak password"],
)
def test_an_operators_bad_neutral_input_is_refused_and_nothing_written(cast, api, body, field):
    operator = api(cast.operator)
    before = db_state()

    response = operator.post("/api/v1/neutrals/", body, format="json")

    error = assert_error(response, 400, "invalid")
    assert field in error["fields"], error["fields"]
    assert db_state() == before


# --- manage.py create_user ---------------------------------------------------------------------
def create_user_args(**overrides) -> list[str]:
    options = {
        "role": "mediator",
        "email": "mediator.cli@example.test",
        "password": STRONG,
        "country": "IE",
        "time-zone": "Europe/Dublin",
        "language": "en",
    }
    options.update(overrides)
    args = []
    for name, value in options.items():
        if value is not None:
            args += [f"--{name}", value]
    return args


def test_create_user_command_creates_a_mediator(db, capsys):
    call_command("create_user", *create_user_args())

    created = User.objects.get(email="mediator.cli@example.test")
    assert created.role == "mediator"
    assert created.country.code == "IE"
    assert created.time_zone == "Europe/Dublin"
    assert created.language == "en"
    assert created.check_password(STRONG)
    assert "created mediator mediator.cli@example.test" in capsys.readouterr().out


def test_create_user_command_creates_a_merchant_with_its_organisation(db):
    call_command(
        "create_user",
        *create_user_args(role="merchant", email="shop@example.test", **{"legal-name": "Cli Shop BV", "country": "nl"}),
    )

    created = User.objects.get(email="shop@example.test")
    assert created.organisation.legal_name == "Cli Shop BV"
    assert created.organisation.country.code == "NL"


@pytest.mark.parametrize(
    "overrides",
    [
        {"time-zone": "Mars/Olympus"},
        {"country": "XX"},
        {"language": "fr"},
        {"password": "password"},
        {"email": "not-an-address"},
        {"role": "superhero"},
        {"role": "merchant"},  # without --legal-name
        {"role": "merchant", "legal-name": "Mars Shop", "time-zone": "Mars/Olympus"},
    ],
    ids=["time zone", "country", "language", "weak password", "e-mail", "role", "merchant without legal name",
         "merchant with bad time zone"],
)  # fmt: skip
def test_create_user_command_refuses_bad_arguments_and_writes_nothing(db, overrides):
    before = db_state()

    with pytest.raises(CommandError):
        call_command("create_user", *create_user_args(**overrides))

    assert db_state() == before


def test_create_user_command_refuses_a_duplicate_email(db):
    call_command("create_user", *create_user_args())
    before = db_state()

    with pytest.raises(CommandError, match="email"):
        call_command("create_user", *create_user_args(email="MEDIATOR.cli@example.test", role="arbitrator"))

    assert db_state() == before


# --- throttling --------------------------------------------------------------------------------
@pytest.fixture
def tight_rates(monkeypatch):
    """DRF reads the rates once, at import; the throttles look them up on this class attribute."""
    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", {"anon": "3/min", "user": "1000/min", "filing": "2/min"})


def assert_throttled(response):
    assert_error(response, 429, "throttled")
    assert int(response.headers["Retry-After"]) > 0


def test_registration_is_throttled(api, db, tight_rates):
    client = api(None)
    for n in range(3):
        assert client.post(REGISTER, consumer_body(email=f"c{n}@example.test"), format="json").status_code == 201

    response = client.post(REGISTER, consumer_body(email="c3@example.test"), format="json")

    assert_throttled(response)
    assert not User.objects.filter(email="c3@example.test").exists()


def test_the_token_endpoint_is_throttled_even_for_good_credentials(api, db, tight_rates):
    consumer = user("consumer")
    client = api(None)
    for _ in range(3):
        assert (
            client.post(TOKEN, {"email": consumer.email, "password": "guess-1-pass"}, format="json").status_code == 400
        )

    response = client.post(TOKEN, {"email": consumer.email, "password": PASSWORD}, format="json")

    assert_throttled(response)
    assert "token" not in response.json()


def test_filing_is_throttled_per_consumer_and_reading_is_not(cast, api, tight_rates):
    client = api(cast.consumer)
    body = filing_body(cast.merchant.organisation_id)
    for _ in range(2):
        assert client.post("/api/v1/cases/", body, format="json").status_code == 201

    response = client.post("/api/v1/cases/", body, format="json")

    assert_throttled(response)
    assert Case.objects.count() == 2
    assert client.get("/api/v1/cases/").status_code == 200
    other = api(user("consumer"))
    assert other.post("/api/v1/cases/", body, format="json").status_code == 201
