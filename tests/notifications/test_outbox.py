"""The notifications outbox (ARCHITECTURE.md design 4), checked the way the people it serves would check it.

Who is told of what; the e-mail each receives, in their language and time zone; the signed webhook a
merchant platform receives (a real HTTP receiver on 127.0.0.1, which verifies the signature and refuses
replays as a real one would); retries with backoff and the dead letter the operator sees; the API, the
bell and the notifications page.

Unit tests run inside a transaction: the delivery tasks queued with ``transaction.on_commit`` run only
inside ``django_capture_on_commit_callbacks(execute=True)`` (Celery is eager here, so they run in-process);
e-mail goes to ``django.core.mail.outbox``.
"""

import datetime as dt
import hashlib
import hmac
import json
import re
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import time_machine
from django.core import mail
from django.db import transaction
from django.test import Client

from accounts.models import Role, User
from cases import services
from cases.deadlines import deadline_sweep
from cases.models import CaseEvent, Deadline
from notifications.models import Delivery, Notification, WebhookEndpoint
from notifications.services import delivery_retry_sweep, webhook_create
from notifications.tasks import deliver
from odr.errors import Forbidden
from tests.factories import PASSWORD, case_in, file_case, merchant_colleague, user

DECEMBER = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC)  # a Tuesday; Madrid is UTC+01:00, Shanghai UTC+08:00


# --- a merchant platform's webhook receiver ----------------------------------------------------------
@dataclass
class Received:
    path: str
    headers: dict  # lower-case names
    body: bytes
    verdict: str  # what the receiver's own check said


class WebhookReceiver:
    """A merchant platform's webhook endpoint on 127.0.0.1 (a free port), written as a real one would be.

    It checks ``X-ODR-Signature`` (hex HMAC-SHA256 of ``timestamp + "." + body`` with the secret it was given
    at registration), refuses a timestamp more than five minutes away from its own clock ("replayed"), and
    acknowledges an event id it has already processed without processing it again ("duplicate").
    ``status`` other than 200 makes it a broken platform that answers that status to good requests;
    ``delay`` makes it answer slowly (the request has then arrived: ``arrived`` is set).
    """

    MAX_AGE_SECONDS = 300

    def __init__(self, *, status: int = 200, delay: float = 0.0, secret: str | None = None):
        self.status = status
        self.delay = delay
        self.secret = secret
        self.requests: list[Received] = []
        self.processed: set[str] = set()
        self.arrived = threading.Event()
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                headers = {name.lower(): value for name, value in self.headers.items()}
                with receiver._lock:
                    verdict = receiver.verify(headers, body)
                    if verdict == "ok" and receiver.status == 200:
                        receiver.processed.add(json.loads(body)["id"])
                    receiver.requests.append(Received(self.path, headers, body, verdict))
                receiver.arrived.set()
                if receiver.delay:
                    time.sleep(receiver.delay)
                code = 400 if verdict in ("bad signature", "replayed") else receiver.status
                answer = verdict.encode()
                try:
                    self.send_response(code)
                    self.send_header("Content-Type", "text/plain")
                    self.send_header("Content-Length", str(len(answer)))
                    self.end_headers()
                    self.wfile.write(answer)
                except OSError:
                    pass  # the sender went away (a killed worker): nothing to answer

            def log_message(self, format, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_port}/odr-hook"
        self._thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(timeout=5)

    def verify(self, headers: dict, body: bytes) -> str:
        timestamp = headers.get("x-odr-timestamp", "")
        expected = hmac.new(self.secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, headers.get("x-odr-signature", "")):
            return "bad signature"
        if not timestamp.isdigit() or abs(time.time() - int(timestamp)) > self.MAX_AGE_SECONDS:
            return "replayed"
        if json.loads(body)["id"] in self.processed:
            return "duplicate"
        return "ok"

    def resend(self, received: Received, *, body: bytes | None = None) -> tuple[int, str]:
        """POST a captured request again, with its old headers (what an attacker who captured it would do)."""
        request = urllib.request.Request(
            self.url,
            data=received.body if body is None else body,
            method="POST",
            headers={
                "Content-Type": "application/json",
                "X-ODR-Timestamp": received.headers["x-odr-timestamp"],
                "X-ODR-Signature": received.headers["x-odr-signature"],
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()


# --- helpers -----------------------------------------------------------------------------------------
def notified(case, event_type: str) -> list[User]:
    """Who was notified of the latest ``event_type`` event on ``case``."""
    event = CaseEvent.objects.filter(case=case, type=event_type).latest("seq")
    return sorted((n.user for n in Notification.objects.filter(event=event)), key=lambda u: u.pk)


def people(*users) -> list[User]:
    return sorted(users, key=lambda u: u.pk)


def badge(response) -> int:
    """The unread count shown on the bell in the page header (0 when no badge is shown)."""
    assert response.status_code == 200
    html = response.content.decode()
    assert 'class="bell"' in html
    found = re.search(r'<span class="badge"[^>]*>\s*(\d+)\s*</span>', html)
    return int(found.group(1)) if found else 0


@pytest.fixture
def shop(cast):
    """The cast's merchant organisation with a second active user and a former (inactive) one, plus an
    unrelated shop and a second operator: the bystanders who must hear nothing."""
    colleague = merchant_colleague(cast.merchant)
    former = merchant_colleague(cast.merchant)
    former.is_active = False
    former.save(update_fields=["is_active"])
    return {
        "colleague": colleague,
        "former": former,
        "other_shop": user(Role.MERCHANT),
        "other_consumer": user(Role.CONSUMER),
        "second_operator": user(Role.OPERATOR),
    }


# --- who is told -------------------------------------------------------------------------------------
def test_a_draft_tells_nobody_and_filing_tells_every_active_user_of_the_merchant(cast, shop):
    draft = file_case(cast, submit=False)
    assert not Notification.objects.filter(case=draft).exists()
    assert not Delivery.objects.filter(event__case=draft).exists()

    services.case_submit(actor=cast.consumer, case_id=draft.pk)
    assert notified(draft, "submit") == people(cast.merchant, shop["colleague"])

    filed = file_case(cast)  # drafted and filed in one go: "created", then "submit"
    assert not Notification.objects.filter(case=filed, event__type="created").exists()
    assert notified(filed, "submit") == people(cast.merchant, shop["colleague"])
    # Nobody else hears of it: not the consumer who filed it, a former employee, another shop or operators.
    for outsider in (cast.consumer, shop["former"], shop["other_shop"], cast.operator, shop["second_operator"]):
        assert not Notification.objects.filter(user=outsider).exists()


def test_the_answer_tells_the_consumer_and_the_other_merchant_users_and_a_contest_also_the_operators(cast, shop):
    case = file_case(cast)
    services.case_respond(actor=cast.merchant, case_id=case.pk, position="contest", statement="Delivered.")
    assert notified(case, "respond") == people(cast.consumer, shop["colleague"])

    services.case_contest_jurisdiction(actor=cast.consumer, case_id=case.pk, reason="Wrong forum.")
    assert notified(case, "contest_jurisdiction") == people(
        cast.merchant, shop["colleague"], cast.operator, shop["second_operator"]
    )

    services.case_decide_jurisdiction(
        actor=cast.operator, case_id=case.pk, forum="odr", applicable_law="ES", reason="Consumer's residence."
    )
    assert notified(case, "decide_jurisdiction") == people(cast.consumer, cast.merchant, shop["colleague"])


def test_assigned_neutrals_are_told_and_a_challenge_reaches_the_operators(cast, shop):
    case = case_in("mediation", cast)
    assert notified(case, "assign_mediator") == people(cast.consumer, cast.merchant, shop["colleague"], cast.mediator)

    services.case_challenge_neutral(actor=cast.consumer, case_id=case.pk, reason="He knows the shop's owner.")
    assert notified(case, "challenge_neutral") == people(
        cast.merchant, shop["colleague"], cast.mediator, cast.operator, shop["second_operator"]
    )

    services.case_escalate(actor=cast.consumer, case_id=case.pk)
    services.case_assign_arbitrator(actor=cast.operator, case_id=case.pk, user_id=cast.arbitrator.pk)
    told = notified(case, "assign_arbitrator")
    assert cast.arbitrator in told and cast.consumer in told and cast.merchant in told
    assert cast.operator not in told and shop["second_operator"] not in told  # the actor, and not an alert
    # The arbitrator never hears of what happened before their assignment.
    assert not Notification.objects.filter(user=cast.arbitrator, event__type="challenge_neutral").exists()


def test_a_fired_deadline_tells_both_parties_and_every_operator(cast, shop):
    with time_machine.travel(DECEMBER, tick=False):
        case = file_case(cast)
    due = Deadline.objects.get(case=case, kind="merchant_response", status="running").due_at
    with time_machine.travel(due + dt.timedelta(seconds=1), tick=False):
        assert deadline_sweep() == 1

    everyone = people(cast.consumer, cast.merchant, shop["colleague"], cast.operator, shop["second_operator"])
    assert notified(case, "deadline_fired") == everyone  # the system acted: nobody is left out as the actor
    # The consequences the sweep applied tell the parties, not the operators.
    assert notified(case, "declare_default") == people(cast.consumer, cast.merchant, shop["colleague"])


def test_each_notification_gets_one_email_and_each_interested_endpoint_one_webhook(cast, shop, settings):
    settings.ODR_WEBHOOK_ALLOW_PRIVATE = True  # nothing is sent here: no commit in this test
    every_event = webhook_create(user=cast.merchant, url="https://hooks.shop.example/all", events=[])
    answers_only = webhook_create(user=cast.merchant, url="https://hooks.shop.example/answers", events=["respond"])
    paused = webhook_create(user=cast.merchant, url="https://hooks.shop.example/paused", events=[])
    paused.active = False
    paused.save(update_fields=["active"])
    webhook_create(user=shop["other_shop"], url="https://hooks.other.example/all", events=[])

    case = file_case(cast)
    services.case_respond(actor=cast.merchant, case_id=case.pk, position="contest", statement="Delivered.")

    for event_type, endpoints in (("submit", [every_event]), ("respond", [every_event, answers_only])):
        event = CaseEvent.objects.get(case=case, type=event_type)
        notifications = list(Notification.objects.filter(event=event))
        emails = Delivery.objects.filter(event=event, channel="email")
        assert sorted(d.notification_id for d in emails) == sorted(n.pk for n in notifications)
        assert all(d.status == "pending" and d.attempts == 0 for d in emails)
        webhooks = Delivery.objects.filter(event=event, channel="webhook")
        assert sorted(d.endpoint_id for d in webhooks) == sorted(e.pk for e in endpoints)


def test_a_refused_action_writes_no_notification_and_a_rolled_back_event_takes_its_outbox_with_it(
    cast, settings, django_capture_on_commit_callbacks
):
    settings.ODR_WEBHOOK_ALLOW_PRIVATE = True
    webhook_create(user=cast.merchant, url="https://hooks.shop.example/all", events=[])
    case = file_case(cast)
    before = (CaseEvent.objects.count(), Notification.objects.count(), Delivery.objects.count())

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        with pytest.raises(Forbidden):
            services.case_withdraw(actor=cast.merchant, case_id=case.pk)  # only the consumer may withdraw
        # The event is appended, then the surrounding transaction fails: all of it goes.
        with pytest.raises(RuntimeError), transaction.atomic():
            services.case_respond(actor=cast.merchant, case_id=case.pk, position="contest", statement="No.")
            assert Notification.objects.filter(event__type="respond").exists()  # written with the event...
            raise RuntimeError("the request failed after the service")
    assert (CaseEvent.objects.count(), Notification.objects.count(), Delivery.objects.count()) == before
    assert callbacks == []  # ...and nothing was queued to send
    assert mail.outbox == []


# --- delivering e-mail -------------------------------------------------------------------------------
def test_filing_emails_the_merchant_once_in_its_own_language_and_time_zone_with_a_link(
    cast, settings, django_capture_on_commit_callbacks
):
    settings.ODR_BASE_URL = "https://odr.example"
    with time_machine.travel(DECEMBER, tick=False), django_capture_on_commit_callbacks(execute=True):
        case = file_case(cast)

    [message] = mail.outbox
    assert message.to == [cast.merchant.email]  # zh-hans, Asia/Shanghai
    assert case.reference in message.subject and "投诉已提交" in message.subject
    assert "投诉已提交" in message.body
    assert "2026-12-01 17:00 (UTC+08:00)" in message.body  # 09:00 UTC, in Shanghai
    assert f"https://odr.example/cases/{case.pk}/" in message.body

    delivery = Delivery.objects.get(event__case=case, channel="email")
    assert (delivery.status, delivery.attempts, delivery.sent_at) == ("sent", 1, DECEMBER)

    # The same task again (a redelivered message): nothing more is sent.
    with django_capture_on_commit_callbacks(execute=True):
        assert deliver.delay(delivery.pk).get() == "skipped"
    # Nor does the retry sweep pick up a sent delivery, however late it runs.
    assert delivery_retry_sweep(now=DECEMBER + dt.timedelta(days=3)) == 0
    assert len(mail.outbox) == 1
    delivery.refresh_from_db()
    assert delivery.attempts == 1


def test_the_consumer_is_emailed_the_answer_in_english_in_madrid_time(cast, django_capture_on_commit_callbacks):
    case = file_case(cast)
    mail.outbox.clear()
    answered = DECEMBER + dt.timedelta(hours=2)
    with time_machine.travel(answered, tick=False), django_capture_on_commit_callbacks(execute=True):
        services.case_respond(actor=cast.merchant, case_id=case.pk, position="contest", statement="Delivered.")
    [message] = mail.outbox
    assert message.to == [cast.consumer.email]
    assert message.subject == f"[{case.reference}] Merchant responded"
    assert "2026-12-01 12:00 (UTC+01:00)" in message.body


# --- delivering webhooks -----------------------------------------------------------------------------
def test_the_merchants_receiver_gets_one_signed_post_and_refuses_a_replay(
    cast, api, settings, django_capture_on_commit_callbacks
):
    settings.ODR_WEBHOOK_ALLOW_PRIVATE = True
    with WebhookReceiver() as receiver:
        created = api(cast.merchant).post("/api/v1/webhooks/", {"url": receiver.url, "events": []}, format="json")
        assert created.status_code == 201
        receiver.secret = created.json()["secret"]

        with django_capture_on_commit_callbacks(execute=True):
            case = file_case(cast)

        [received] = receiver.requests
        assert received.path == "/odr-hook"
        assert received.headers["content-type"] == "application/json"
        timestamp = received.headers["x-odr-timestamp"]
        assert abs(int(timestamp) - time.time()) < 60
        signed = hmac.new(receiver.secret.encode(), f"{timestamp}.".encode() + received.body, hashlib.sha256)
        assert received.headers["x-odr-signature"] == signed.hexdigest()
        assert received.verdict == "ok"
        payload = json.loads(received.body)
        event = CaseEvent.objects.get(case=case, type="submit")
        assert payload["id"] == f"evt_{event.pk}" and payload["type"] == "submit"
        assert payload["case"] == {"id": str(case.pk), "reference": case.reference, "status": "filed"}
        delivery = Delivery.objects.get(event=event, channel="webhook")
        assert (delivery.status, delivery.attempts) == ("sent", 1)

        # Sending again, by the task or the sweep, posts nothing more.
        assert deliver.delay(delivery.pk).get() == "skipped"
        assert delivery_retry_sweep(now=dt.datetime.now(dt.UTC) + dt.timedelta(days=1)) == 0
        assert len(receiver.requests) == 1

        # The receiver's own check: a changed body fails the signature...
        assert receiver.resend(received, body=received.body.replace(b"filed", b"closed")) == (400, "bad signature")
        # ...and the captured request, sent again ten minutes later with its old headers, is a replay.
        with time_machine.travel(dt.datetime.now(dt.UTC) + dt.timedelta(minutes=10)):
            assert receiver.resend(received) == (400, "replayed")


def test_a_failing_receiver_is_retried_with_doubling_waits_then_dead_lettered_for_the_operator(
    cast, api, settings, django_capture_on_commit_callbacks
):
    settings.ODR_WEBHOOK_ALLOW_PRIVATE = True
    with WebhookReceiver(status=500) as receiver:
        created = api(cast.merchant).post("/api/v1/webhooks/", {"url": receiver.url, "events": ["submit"]})
        receiver.secret = created.json()["secret"]
        with time_machine.travel(DECEMBER, tick=False), django_capture_on_commit_callbacks(execute=True):
            case = file_case(cast)

        delivery = Delivery.objects.get(event__case=case, channel="webhook")
        assert (delivery.status, delivery.attempts) == ("pending", 1)
        assert "500" in delivery.last_error
        assert delivery.next_attempt_at == DECEMBER + dt.timedelta(seconds=30)

        waits, tried_at = [30], [DECEMBER]
        while delivery.status == "pending":
            due = delivery.next_attempt_at
            with time_machine.travel(due - dt.timedelta(seconds=1), tick=False):
                assert delivery_retry_sweep() == 0  # not before its time
            with time_machine.travel(due, tick=False):
                assert delivery_retry_sweep() == 1
            delivery.refresh_from_db()
            tried_at.append(due)
            if delivery.status == "pending":
                waits.append((delivery.next_attempt_at - due).total_seconds())

        assert waits[:9] == [30, 60, 120, 240, 480, 960, 1920, 3840, 7200]
        assert set(waits[8:]) == {7200}  # capped at two hours
        # Dead-lettered by the first failure once a day had passed since the delivery was created.
        assert delivery.status == "dead"
        assert tried_at[-2] - DECEMBER < dt.timedelta(hours=24) <= tried_at[-1] - DECEMBER
        assert delivery.attempts == len(tried_at) == 20
        assert len(receiver.requests) == 20 and {r.verdict for r in receiver.requests} == {"ok"}
        # Never tried again.
        assert delivery_retry_sweep(now=DECEMBER + dt.timedelta(days=7)) == 0
        assert len(receiver.requests) == 20

    operator = User.objects.create_superuser(email="ops-admin@example.test", password=PASSWORD)
    client = Client()
    client.force_login(operator)
    page = client.get("/admin/notifications/delivery/", {"status__exact": "dead"})
    assert page.status_code == 200
    html = page.content.decode()
    assert "Dead-lettered" in html and "HTTP Error 500" in html
    assert f"/admin/notifications/delivery/{delivery.pk}/" in html


# --- the API -----------------------------------------------------------------------------------------
def test_the_api_lists_only_ones_own_notifications_newest_first_and_marks_them_read(cast, api):
    with time_machine.travel(DECEMBER, tick=False):
        first = file_case(cast)
    with time_machine.travel(DECEMBER + dt.timedelta(hours=1), tick=False):
        second = file_case(cast)
    with time_machine.travel(DECEMBER + dt.timedelta(hours=2), tick=False):
        services.case_respond(actor=cast.merchant, case_id=first.pk, position="contest", statement="Delivered.")

    response = api(cast.merchant).get("/api/v1/notifications/")
    assert response.status_code == 200
    results = response.json()["results"]
    assert [(n["case"]["reference"], n["type"]) for n in results] == [
        (second.reference, "submit"),
        (first.reference, "submit"),
    ]
    newest = results[0]
    assert newest["case"]["id"] == str(second.pk)
    title = {"en": "Complaint filed", "zh-hans": "投诉已提交"}[response["Content-Language"]]
    assert newest["title"] == title
    assert newest["created_at"] == "2026-12-01T10:00:00Z"
    assert newest["created_at_local"] == "2026-12-01T18:00:00+08:00"  # the merchant is in Asia/Shanghai
    assert newest["read_at"] is None

    [theirs] = api(cast.consumer).get("/api/v1/notifications/").json()["results"]
    assert (theirs["type"], theirs["case"]["reference"]) == ("respond", first.reference)
    assert theirs["created_at_local"] == "2026-12-01T12:00:00+01:00"  # the consumer is in Europe/Madrid

    read = api(cast.merchant).post(f"/api/v1/notifications/{newest['id']}/read/")
    assert read.status_code == 200 and read.json()["read_at"]
    listed = api(cast.merchant).get("/api/v1/notifications/").json()["results"]
    assert [n["read_at"] is not None for n in listed] == [True, False]

    # Someone else's notification: not found, and left unread.
    assert api(cast.merchant).post(f"/api/v1/notifications/{theirs['id']}/read/").status_code == 404
    assert Notification.objects.get(pk=theirs["id"]).read_at is None


def test_webhooks_are_for_merchants_and_the_secret_is_shown_only_once(cast, api, settings):
    settings.ODR_WEBHOOK_ALLOW_PRIVATE = False  # production: public addresses only
    assert api(cast.consumer).get("/api/v1/webhooks/").status_code == 403
    refused = api(cast.consumer).post("/api/v1/webhooks/", {"url": "https://8.8.8.8/hook"})
    assert refused.status_code == 403
    assert not WebhookEndpoint.objects.exists()

    created = api(cast.merchant).post("/api/v1/webhooks/", {"url": "https://8.8.8.8/hook", "events": ["submit"]})
    assert created.status_code == 201
    secret = created.json()["secret"]
    assert len(secret) >= 32
    assert created.json()["url"] == "https://8.8.8.8/hook" and created.json()["events"] == ["submit"]

    listed = api(cast.merchant).get("/api/v1/webhooks/")
    assert listed.status_code == 200
    [endpoint] = listed.json()["results"]
    assert endpoint["id"] == created.json()["id"] and "secret" not in endpoint
    assert secret not in listed.content.decode()
    # Another merchant sees none of them.
    assert api(user(Role.MERCHANT)).get("/api/v1/webhooks/").json()["results"] == []


@pytest.mark.parametrize("allow_private", [True, False])
@pytest.mark.parametrize("url", ["ftp://x", "javascript:alert(1)", "ftp://files.example.com/hook"])
def test_a_webhook_url_that_is_not_http_is_refused(cast, api, settings, url, allow_private):
    settings.ODR_WEBHOOK_ALLOW_PRIVATE = allow_private
    response = api(cast.merchant).post("/api/v1/webhooks/", {"url": url})
    assert response.status_code == 400
    assert response.json()["error"]["fields"]["url"]
    assert not WebhookEndpoint.objects.exists()


@pytest.mark.parametrize("url", ["http://127.0.0.1/", "http://10.0.0.5/hook", "http://localhost/hook", "http://[::1]/"])
def test_a_webhook_url_to_a_non_public_address_is_refused_in_production(cast, api, settings, url):
    settings.ODR_WEBHOOK_ALLOW_PRIVATE = False
    response = api(cast.merchant).post("/api/v1/webhooks/", {"url": url})
    assert response.status_code == 400
    assert response.json()["error"]["fields"]["url"]
    assert not WebhookEndpoint.objects.exists()


# --- the bell and the notifications page -------------------------------------------------------------
def test_the_bell_counts_unread_notices_and_opening_one_goes_to_the_case(cast):
    first, second = file_case(cast), file_case(cast)
    services.case_respond(actor=cast.merchant, case_id=first.pk, position="contest", statement="Delivered.")
    client = Client(raise_request_exception=False)
    client.force_login(cast.merchant)

    assert badge(client.get("/cases/")) == 2

    listing = client.get("/notifications/")
    assert listing.status_code == 200
    html = listing.content.decode()
    assert first.reference in html and second.reference in html
    assert html.count("投诉已提交") == 2  # in the merchant's language

    notice = Notification.objects.get(user=cast.merchant, case=first)
    opened = client.post(f"/notifications/{notice.pk}/open/")
    assert opened.status_code == 302 and opened["Location"] == f"/cases/{first.pk}/"
    notice.refresh_from_db()
    assert notice.read_at is not None
    assert client.get(opened["Location"]).status_code == 200
    assert badge(client.get("/cases/")) == 1
    assert badge(client.get("/notifications/")) == 1

    # The consumer's notice (the merchant's answer) cannot be opened by the merchant.
    theirs = Notification.objects.get(user=cast.consumer, case=first)
    assert client.post(f"/notifications/{theirs.pk}/open/").status_code == 404
    theirs.refresh_from_db()
    assert theirs.read_at is None


def test_no_bell_for_visitors_who_are_not_logged_in(db):
    page = Client().get("/accounts/login/")
    assert page.status_code == 200
    assert 'class="badge"' not in page.content.decode()


def test_a_batch_of_emails_goes_out_in_one_task_each_delivery_its_own_attempt(cast, shop):
    """``deliver_many`` (a sweep batch's e-mails in one task): every pending one is sent once; one already
    sent is skipped, not sent twice."""
    from notifications.tasks import deliver_many

    case = file_case(cast)
    emails = list(Delivery.objects.filter(event__case=case, channel="email").order_by("pk"))
    assert len(emails) >= 2
    deliver(emails[0].pk)
    mail.outbox.clear()
    assert deliver_many([d.pk for d in emails]) == {"skipped": 1, "sent": len(emails) - 1}
    assert len(mail.outbox) == len(emails) - 1
    assert set(Delivery.objects.filter(pk__in=[d.pk for d in emails]).values_list("status", flat=True)) == {"sent"}
