"""Evidence on the case page in a real browser: a consumer chooses a file and uploads it (the page's script
sends it with a progress bar), the page reloads with the file listed, and its download link gives back the
very bytes that were chosen. Also the form without JavaScript, and the script's own size check.

Debian's Chromium through Playwright against pytest-django's live server (see conftest.py).
"""

import hashlib
from types import SimpleNamespace

import pytest
from playwright.sync_api import expect

from cases.models import CaseEvent, Evidence
from tests.browser.test_flows import assert_no_page_problems, log_in
from tests.evidence.helpers import pdf, vault_files
from tests.factories import file_case, user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

#: The live server speaks HTTP only (WSGI, see conftest.py): a page's websocket (the case chat's) cannot
#: connect there. That console error is the only one these pages may show.
NO_WEBSOCKET = "WebSocket connection to"

#: A PDF of a few hundred KiB, so that the upload has some progress to show.
RECEIPT = pdf(b"".join(f"% receipt line {i:06d} ORD-1001 89.90 EUR\n".encode() for i in range(8000)))

#: Records, across the reload the script does on success, what the progress bar and the status line went
#: through: every change of the <progress> element and the status text, and their state at unload.
RECORDER = """
(() => {
  const log = (entry) => {
    const seen = JSON.parse(sessionStorage.getItem("upload-log") || "[]");
    seen.push(entry);
    sessionStorage.setItem("upload-log", JSON.stringify(seen));
  };
  document.addEventListener("DOMContentLoaded", () => {
    const bar = document.querySelector("form.upload progress");
    const status = document.querySelector("form.upload .upload-status");
    if (!bar) return;
    new MutationObserver(() => log({hidden: bar.hidden, value: bar.value, status: status.textContent}))
      .observe(bar, {attributes: true});
    new MutationObserver(() => log({hidden: bar.hidden, value: bar.value, status: status.textContent}))
      .observe(status, {childList: true, characterData: true, subtree: true});
    window.addEventListener("beforeunload", () =>
      log({unload: true, hidden: bar.hidden, value: bar.value, status: status.textContent}));
  });
})();
"""


@pytest.fixture
def case():
    consumer = user("consumer", country="ES", time_zone="Europe/Madrid")
    merchant = user("merchant", country="CN", time_zone="Asia/Shanghai", language="en")
    return file_case(SimpleNamespace(consumer=consumer, merchant=merchant))


def evidence_section(page):
    return page.locator("section.evidence")


def test_consumer_uploads_a_file_with_progress_and_downloads_the_same_bytes(new_page, case, shots, tmp_path):
    page = new_page()
    page.add_init_script(RECORDER)
    log_in(page, case.consumer.email)
    page.goto(f"/cases/{case.pk}/")
    section = evidence_section(page)
    expect(section.get_by_role("heading", name="Evidence")).to_be_visible()
    expect(section).to_contain_text("No files yet.")
    progress = section.locator("progress")
    expect(progress).to_be_hidden()
    page.wait_for_function("() => document.querySelector('form.upload') !== null")

    page.set_input_files(
        "#evidence-file", files=[{"name": "receipt.pdf", "mimeType": "application/pdf", "buffer": RECEIPT}]
    )
    page.locator("#evidence-description").fill("The shop's receipt")
    page.screenshot(path=shots / "evidence-chosen.png", full_page=True)
    # The script reloads the page once the upload is stored.
    with (
        page.expect_response(lambda r: r.url.endswith(f"/cases/{case.pk}/evidence/")) as posted,
        page.expect_navigation(),
    ):
        section.get_by_role("button", name="Upload").click()
    assert posted.value.status == 201
    assert posted.value.request.headers.get("accept") == "application/json"

    # The progress bar was shown and reached 100, with the status line saying so, before the reload.
    log = page.evaluate("() => JSON.parse(sessionStorage.getItem('upload-log') || '[]')")
    assert any(not entry["hidden"] for entry in log), log
    assert any(entry["status"] == "Uploading…" for entry in log), log
    unload = [entry for entry in log if entry.get("unload")]
    assert unload and unload[0] == {"unload": True, "hidden": False, "value": 100, "status": "Uploaded."}, log

    # The page came back with the file listed.
    section = evidence_section(page)
    link = section.get_by_role("link", name="receipt.pdf")
    expect(link).to_be_visible()
    expect(section).to_contain_text("The shop's receipt")
    expect(section).not_to_contain_text("No files yet.")
    evidence = Evidence.objects.get()
    expect(section.locator("code.hash").first).to_have_text(hashlib.sha256(RECEIPT).hexdigest())
    assert evidence.sha256 == hashlib.sha256(RECEIPT).hexdigest()
    assert (evidence.description, evidence.party) == ("The shop's receipt", "consumer")
    assert CaseEvent.objects.filter(case=case, type="evidence_added").count() == 1
    page.screenshot(path=shots / "evidence-listed.png", full_page=True)

    with page.expect_download() as downloading:
        link.click()
    download = downloading.value
    assert download.failure() is None
    assert download.suggested_filename == "receipt.pdf"
    saved = tmp_path / "downloaded.pdf"
    download.save_as(saved)
    assert saved.read_bytes() == RECEIPT
    # Nothing in the vault is the plaintext.
    assert all(RECEIPT[:64] not in p.read_bytes() for p in vault_files())
    assert_no_page_problems(page, NO_WEBSOCKET)


def test_the_script_refuses_a_file_over_the_limit_before_sending_it(new_page, case, settings):
    settings.ODR_EVIDENCE_MAX_BYTES = 100_000
    page = new_page()
    log_in(page, case.consumer.email)
    page.goto(f"/cases/{case.pk}/")
    page.wait_for_function("() => document.querySelector('form.upload') !== null")
    requests = []
    page.on("request", lambda r: r.method == "POST" and requests.append(r.url))
    page.set_input_files(
        "#evidence-file", files=[{"name": "big.pdf", "mimeType": "application/pdf", "buffer": pdf(b"x" * 150_000)}]
    )
    evidence_section(page).get_by_role("button", name="Upload").click()
    expect(page.locator("form.upload .upload-status")).to_contain_text("A file may be at most")
    assert requests == []
    assert not Evidence.objects.exists()
    assert vault_files() == []
    assert_no_page_problems(page, NO_WEBSOCKET)


def test_a_refused_type_shows_the_servers_message(new_page, case):
    page = new_page()
    log_in(page, case.consumer.email)
    page.goto(f"/cases/{case.pk}/")
    page.wait_for_function("() => document.querySelector('form.upload') !== null")
    html = b"<!DOCTYPE html><html><body><script>alert(1)</script></body></html>"
    page.set_input_files(
        "#evidence-file", files=[{"name": "invoice.pdf", "mimeType": "application/pdf", "buffer": html}]
    )
    with page.expect_response(lambda r: r.url.endswith("/evidence/")) as posted:
        evidence_section(page).get_by_role("button", name="Upload").click()
    assert posted.value.status == 415
    expect(page.locator("form.upload .upload-status")).to_contain_text("text/html are not accepted")
    expect(evidence_section(page).get_by_role("button", name="Upload")).to_be_enabled()
    assert not Evidence.objects.exists()
    # The 415 is the page's own console noise, nothing else.
    assert_no_page_problems(page, "415", NO_WEBSOCKET)


def test_the_form_works_without_javascript(browser, live_site, case, tmp_path):
    context = browser.new_context(base_url=live_site, java_script_enabled=False, locale="en-GB")
    try:
        page = context.new_page()
        log_in(page, case.consumer.email)
        page.goto(f"/cases/{case.pk}/")
        page.set_input_files(
            "#evidence-file", files=[{"name": "receipt.pdf", "mimeType": "application/pdf", "buffer": RECEIPT}]
        )
        evidence_section(page).get_by_role("button", name="Upload").click()
        expect(page.locator("ul.messages[role=status]")).to_contain_text("receipt.pdf is added to the case.")
        link = evidence_section(page).get_by_role("link", name="receipt.pdf")
        expect(link).to_be_visible()
        with page.expect_download() as downloading:
            link.click()
        saved = tmp_path / "nojs.pdf"
        downloading.value.save_as(saved)
        assert saved.read_bytes() == RECEIPT
    finally:
        context.close()
