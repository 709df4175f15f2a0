"""The operator's dashboard in a real browser: filter by a country pair, see the charts change, download
the CSV of the same figures.

Cases are filed through the services (so the statistics' summaries are kept as in production): three from
a Spanish consumer against a Chinese shop, two from a French consumer against a German one. Debian's
Chromium through Playwright against pytest-django's live server (see conftest.py).
"""

import csv
import io
from types import SimpleNamespace

import pytest
from playwright.sync_api import expect

from accounts.models import Role
from tests.browser.test_flows import assert_no_page_problems, log_in
from tests.factories import file_case as _file
from tests.factories import user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def chart(page, canvas_id: str) -> dict:
    """What a Chart.js chart on the page draws: its labels and its first series (once the page's scripts
    have drawn it: the figures in the HTML can be there before Chart.js has run)."""
    page.wait_for_function("id => window.Chart && Chart.getChart(document.getElementById(id))", arg=canvas_id)
    return page.evaluate(
        """id => { const c = Chart.getChart(document.getElementById(id));
                   return {labels: c.data.labels, values: c.data.datasets[0].data}; }""",
        canvas_id,
    )


def test_operator_filters_by_a_country_pair_and_downloads_the_csv(new_page):
    spanish = user(Role.CONSUMER, country="ES")
    french = user(Role.CONSUMER, country="FR", time_zone="Europe/Paris")
    chinese_shop = user(Role.MERCHANT, country="CN", time_zone="Asia/Shanghai", legal_name="Lotus Trading Ltd")
    german_shop = user(Role.MERCHANT, country="DE", time_zone="Europe/Berlin", legal_name="Berliner Kamera GmbH")
    operator = user(Role.OPERATOR, country="IE", time_zone="UTC")
    for _ in range(3):
        _file(SimpleNamespace(consumer=spanish, merchant=chinese_shop))
    for _ in range(2):
        _file(SimpleNamespace(consumer=french, merchant=german_shop))

    page = new_page(1280, 1400)
    log_in(page, operator.email)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Dashboard").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Dashboard")
    expect(page.locator("#kpi-total")).to_have_text("5")
    before = chart(page, "chart-pairs")
    assert dict(zip(before["labels"], before["values"], strict=True)) == {"ES → CN": 3, "FR → DE": 2}

    filters = page.get_by_role("search", name="Filters")
    filters.get_by_label("Consumer's country").select_option("FR")
    filters.get_by_label("Merchant's country").select_option("DE")
    filters.get_by_role("button", name="Apply").click()

    expect(page.locator("#kpi-total")).to_have_text("2")
    after = chart(page, "chart-pairs")
    assert dict(zip(after["labels"], after["values"], strict=True)) == {"FR → DE": 2}
    status = chart(page, "chart-status")
    assert dict(zip(status["labels"], status["values"], strict=True))["Filed"] == 2

    with page.expect_download() as download:
        page.get_by_role("link", name="Download these figures (CSV)").click()
    body = download.value.path().read_text(encoding="utf-8")
    assert download.value.suggested_filename == "odr-statistics.csv"
    rows = {(r[0], r[1]): r[2] for r in csv.reader(io.StringIO(body))}
    assert rows[("filter", "consumer_country")] == "FR"
    assert rows[("filter", "merchant_country")] == "DE"
    assert rows[("total", "cases")] == "2"
    assert rows[("by_country_pair", "FR-DE")] == "2"
    assert ("by_country_pair", "ES-CN") not in rows
    assert_no_page_problems(page)
