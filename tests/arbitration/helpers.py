"""Shared by the arbitration tests: API calls, award bodies, the event log, and reading award PDFs."""

import hashlib
import io

import pypdf
from django.core.files.uploadedfile import SimpleUploadedFile

from cases.models import CaseEvent, Deadline
from tests.conftest import client_for
from tests.evidence.helpers import png

#: Reasons written in Chinese: they must survive into both documents and come out of them again.
CHINESE_REASONS = "商家未能证明已交付。The merchant did not prove delivery; half of the price is refunded."


def url(case, tail: str = "") -> str:
    return f"/api/v1/cases/{case.pk}/{tail}"


def act(user, case, action: str, body: dict | None = None):
    """POST one lifecycle action as ``user``; the response."""
    return client_for(user).post(url(case, f"actions/{action}/"), body or {}, format="json")


def acted(user, case, action: str, body: dict | None = None) -> dict:
    response = act(user, case, action, body)
    assert response.status_code == 200, (action, response.status_code, response.content)
    return response.json()


def money(amount: str, currency: str = "EUR") -> dict:
    return {"amount": amount, "currency": currency}


def award_body(decision="partly_granted", amount="45.00", reasons=CHINESE_REASONS, **extra) -> dict:
    body = {"decision": decision, "remedy": "refund", "reasons": reasons, **extra}
    if amount is not None:
        body["amount"] = money(amount)
    return body


def submit(user, case, statement="My side of it.", evidence=()):
    return client_for(user).post(
        url(case, "submissions/"), {"statement": statement, "evidence": [str(e) for e in evidence]}, format="json"
    )


def set_timetable(user, case, day):
    return client_for(user).post(url(case, "timetable/"), {"submissions_due": day.isoformat()}, format="json")


def correct(user, case, *, amount="40.00", reasons="Recalculated.", note="Arithmetic error in the amount."):
    body = {"remedy": "refund", "reasons": reasons, "note": note}
    if amount is not None:
        body["amount"] = money(amount)
    return client_for(user).post(url(case, "award/corrections/"), body, format="json")


def upload_png(user, case, description="Bank statement") -> dict:
    response = client_for(user).post(
        url(case, "evidence/"),
        {"file": SimpleUploadedFile("statement.png", png()), "description": description},
        format="multipart",
    )
    assert response.status_code == 201, response.content
    return response.json()


def api_events(user, case) -> list[dict]:
    """The whole event log as ``user`` reads it through the API, following the cursor pages."""
    client = client_for(user)
    events, next_url = [], url(case, "events/")
    while next_url:
        response = client.get(next_url)
        assert response.status_code == 200, response.content
        body = response.json()
        events.extend(body["results"])
        next_url = body["next"]
    return events


def event_types(case) -> list[str]:
    return list(CaseEvent.objects.filter(case=case).order_by("seq").values_list("type", flat=True))


def running(case, kind) -> Deadline:
    return Deadline.objects.get(case=case, kind=kind, status="running")


def fetch_pdf(user, case, **params):
    return client_for(user).get(url(case, "award.pdf"), params)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def pdf_text(content: bytes) -> str:
    """All the text of a PDF, pages joined, as a reader's copy-and-paste would give it."""
    reader = pypdf.PdfReader(io.BytesIO(content))
    return "\n".join(page.extract_text() for page in reader.pages)


def squeeze(text: str) -> str:
    """Text without whitespace: a PDF wraps long lines where it likes."""
    return "".join(text.split())


def error(response) -> dict:
    body = response.json()
    assert set(body) == {"error"}, body
    return body["error"]
