"""Business-day calendars: when a deadline of N business days in a party's country ends.

Periods are counted as EU Regulation 1182/71 art. 3 counts them: the day on which the clock starts
(taken in the acting party's own time zone) is not counted; each following day counts if it is a
working day in that party's country -- not a weekend day of that country (Friday-Saturday in Saudi
Arabia, for example), not a public holiday -- or a weekend day officially worked there (China's
adjusted working days); the period ends at 23:59:59 of the last day, in the party's time zone, DST-correct.
Holidays and weekends come from the ``holidays`` package.
"""

import datetime as dt
import logging
import zoneinfo
from functools import lru_cache

import holidays

logger = logging.getLogger(__name__)
END_OF_DAY = dt.time(23, 59, 59)


@lru_cache(maxsize=512)
def country_calendar(country: str) -> holidays.HolidayBase:
    """The public holidays (and weekend) of ``country``; Saturday-Sunday without holidays if unknown."""
    try:
        return holidays.country_holidays(country)
    except NotImplementedError:
        logger.warning("no holiday calendar for country %s: counting Monday-Friday", country)
        return holidays.HolidayBase()


def is_business_day(day: dt.date, country: str) -> bool:
    return country_calendar(country).is_working_day(day)


def local_end_of_day(day: dt.date, time_zone: str) -> dt.datetime:
    """23:59:59 of ``day`` in ``time_zone``, as an aware UTC datetime."""
    return dt.datetime.combine(day, END_OF_DAY, tzinfo=zoneinfo.ZoneInfo(time_zone)).astimezone(dt.UTC)


def business_days_after(start_day: dt.date, business_days: int, country: str) -> dt.date:
    """The date on which ``business_days`` business days after ``start_day`` (not counted) end."""
    if business_days < 0:
        raise ValueError("business_days must not be negative")
    day, counted = start_day, 0
    while counted < business_days:
        day += dt.timedelta(days=1)
        if is_business_day(day, country):
            counted += 1
    return day


def deadline_after(start: dt.datetime, business_days: int, country: str, time_zone: str) -> dt.datetime:
    """The aware UTC end of a period of ``business_days`` business days starting at ``start``.

    ``start`` is aware (any zone); its date is taken in ``time_zone`` and not counted. The period ends at
    23:59:59 on its last day in ``time_zone``. ``business_days=0`` ends at the end of the starting day.
    """
    if start.tzinfo is None:
        raise ValueError("start must be an aware datetime")
    tz = zoneinfo.ZoneInfo(time_zone)
    start_day = start.astimezone(tz).date()
    return local_end_of_day(business_days_after(start_day, business_days, country), time_zone)


def business_days_before(deadline: dt.datetime, business_days: int, country: str, time_zone: str) -> dt.date:
    """The local date ``business_days`` business days before the deadline's last day (for reminders)."""
    day = deadline.astimezone(zoneinfo.ZoneInfo(time_zone)).date()
    counted = 0
    while counted < business_days:
        day -= dt.timedelta(days=1)
        if is_business_day(day, country):
            counted += 1
    return day


QUIET_FROM = dt.time(21, 0)
QUIET_UNTIL = dt.time(8, 0)


def quiet_hours_shift(moment: dt.datetime, time_zone: str) -> dt.datetime:
    """``moment`` moved out of the quiet hours (21:00-08:00 local) to 08:00 local; aware UTC."""
    tz = zoneinfo.ZoneInfo(time_zone)
    local = moment.astimezone(tz)
    if local.time() >= QUIET_FROM:
        local = dt.datetime.combine(local.date() + dt.timedelta(days=1), QUIET_UNTIL, tzinfo=tz)
    elif local.time() < QUIET_UNTIL:
        local = dt.datetime.combine(local.date(), QUIET_UNTIL, tzinfo=tz)
    return local.astimezone(dt.UTC)
