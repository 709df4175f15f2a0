"""The case record bundle carries the award's PDFs; its offline verify.py checks each against the SHA-256
on the issue_award and award_corrected events, and names a document that was swapped."""

import io
import zipfile

import pytest

from arbitration.models import AwardDocument
from tests.conftest import client_for
from tests.evidence.helpers import body_of, run_verify
from tests.factories import Cast, case_in

pytestmark = pytest.mark.django_db


def _export(user, case, tmp_path):
    response = client_for(user).get(f"/api/v1/cases/{case.pk}/export/")
    assert response.status_code == 200
    data = body_of(response)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        archive.extractall(tmp_path)
    return data, tmp_path / case.reference


def test_the_bundle_holds_the_award_and_its_correction_and_verifies(tmp_path):
    cast = Cast.make()
    case = case_in("awarded", cast)
    response = client_for(cast.arbitrator).post(
        f"/api/v1/cases/{case.pk}/award/corrections/",
        {"amount": {"amount": "80.00", "currency": "EUR"}, "remedy": "refund", "reasons": "Corrected.", "note": "Sum."},
        format="json",
    )
    assert response.status_code == 201, response.content
    _data, folder = _export(cast.consumer, case, tmp_path)
    documents = AwardDocument.objects.filter(award__case=case)
    assert documents.count() == 4  # awards 1 and 2, each in English and Chinese
    for document in documents:
        stored = folder / "awards" / f"award-{document.award.number}-{document.language}.pdf"
        assert stored.read_bytes() == bytes(document.pdf)
    result = run_verify(folder / "verify.py", cwd=folder)
    assert result.returncode == 0, result.stdout
    assert "4 award documents match the log" in result.stdout


def test_a_swapped_award_document_is_named(tmp_path):
    cast = Cast.make()
    case = case_in("awarded", cast)
    _data, folder = _export(cast.merchant, case, tmp_path)
    english = folder / "awards" / "award-1-en.pdf"
    chinese = folder / "awards" / "award-1-zh-hans.pdf"
    english.write_bytes(chinese.read_bytes())
    result = run_verify(folder / "verify.py", cwd=folder)
    assert result.returncode == 1
    assert "awards/award-1-en.pdf: SHA-256 differs from the event log" in result.stdout
