"""Business-day deadlines with real public holidays, weekends of other countries, DST and odd offsets."""

import datetime as dt
import zoneinfo

import pytest

from cases.calendars import business_days_after, deadline_after, is_business_day

UTC = dt.UTC


def local(value, tz):
    return value.astimezone(zoneinfo.ZoneInfo(tz))


def test_chinese_merchant_across_national_day_and_an_adjusted_saturday():
    # Friday 25 September 2026, 10:00 in Shanghai. 1-7 October are holidays; Saturday 10 October is worked.
    start = dt.datetime(2026, 9, 25, 10, 0, tzinfo=zoneinfo.ZoneInfo("Asia/Shanghai"))
    due = deadline_after(start, 10, "CN", "Asia/Shanghai")
    assert is_business_day(dt.date(2026, 10, 10), "CN")  # 调休: a Saturday worked
    assert not is_business_day(dt.date(2026, 10, 6), "CN")
    assert local(due, "Asia/Shanghai") == dt.datetime(
        2026, 10, 15, 23, 59, 59, tzinfo=zoneinfo.ZoneInfo("Asia/Shanghai")
    )
    assert due == dt.datetime(2026, 10, 15, 15, 59, 59, tzinfo=UTC)


def test_us_merchant_across_thanksgiving():
    start = dt.datetime(2026, 11, 20, 10, 0, tzinfo=zoneinfo.ZoneInfo("America/New_York"))
    due = deadline_after(start, 5, "US", "America/New_York")
    # Mon 23, Tue 24, Wed 25, (Thanksgiving Thu 26 skipped), Fri 27, Mon 30.
    assert local(due, "America/New_York").date() == dt.date(2026, 11, 30)
    assert due == dt.datetime(2026, 12, 1, 4, 59, 59, tzinfo=UTC)


def test_german_consumer_across_easter_and_the_dst_change():
    start = dt.datetime(2026, 3, 20, 9, 0, tzinfo=zoneinfo.ZoneInfo("Europe/Berlin"))
    due = deadline_after(start, 10, "DE", "Europe/Berlin")
    # Good Friday 3 April and Easter Monday 6 April skipped; summer time from 29 March (UTC+2).
    assert local(due, "Europe/Berlin").date() == dt.date(2026, 4, 7)
    assert due == dt.datetime(2026, 4, 7, 21, 59, 59, tzinfo=UTC)


def test_deadline_across_the_autumn_dst_change_in_new_york():
    start = dt.datetime(2026, 10, 29, 12, 0, tzinfo=zoneinfo.ZoneInfo("America/New_York"))  # EDT, UTC-4
    due = deadline_after(start, 3, "US", "America/New_York")
    # Fri 30 Oct, Mon 2 Nov, Tue 3 Nov (Election Day is no federal holiday); EST (UTC-5) from 1 Nov.
    assert local(due, "America/New_York").date() == dt.date(2026, 11, 3)
    assert due == dt.datetime(2026, 11, 4, 4, 59, 59, tzinfo=UTC)


def test_the_starting_day_is_taken_in_the_partys_own_time_zone():
    # 20:00 UTC on Monday is already Tuesday in Kolkata (+05:30): the clock starts on Tuesday there.
    start = dt.datetime(2026, 6, 1, 20, 0, tzinfo=UTC)
    due = deadline_after(start, 1, "IN", "Asia/Kolkata")
    assert local(due, "Asia/Kolkata").date() == dt.date(2026, 6, 3)
    assert due == dt.datetime(2026, 6, 3, 18, 29, 59, tzinfo=UTC)


def test_chatham_islands_quarter_hour_offset():
    start = dt.datetime(2026, 11, 27, 12, 0, tzinfo=UTC)  # Saturday 28 Nov 01:45 on the Chathams (+13:45 DST)
    due = deadline_after(start, 1, "NZ", "Pacific/Chatham")
    assert local(due, "Pacific/Chatham").date() == dt.date(2026, 11, 30)
    assert due == dt.datetime(2026, 11, 30, 10, 14, 59, tzinfo=UTC)


def test_a_friday_saturday_weekend():
    # Saudi Arabia rests Friday and Saturday: from Thursday, one business day ends on Sunday.
    assert business_days_after(dt.date(2026, 6, 4), 1, "SA") == dt.date(2026, 6, 7)


def test_naive_start_is_refused():
    with pytest.raises(ValueError):
        deadline_after(dt.datetime(2026, 1, 1, 12, 0), 1, "DE", "Europe/Berlin")
