"""Shared by the statistics and risk-alert tests: moments in UTC, time travel, and the operator API."""

import datetime as dt

import time_machine

from tests.conftest import client_for

OVERVIEW = "/api/v1/stats/overview/"
MERCHANTS = "/api/v1/stats/merchants/"
ALERTS = "/api/v1/alerts/"


def utc(year, month, day, hour=0, minute=0) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, tzinfo=dt.UTC)


def at(moment: dt.datetime):
    """Stop the clock at ``moment`` for what runs inside (filing, moves, the sweep, the risk scan)."""
    return time_machine.travel(moment, tick=False)


def get_ok(user, url, **params) -> dict:
    response = client_for(user).get(url, params)
    assert response.status_code == 200, (response.status_code, response.content[:2000])
    return response.json()


def assert_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, (response.status_code, response.content[:2000])
    assert response["Content-Type"].startswith("application/json"), response["Content-Type"]
    body = response.json()
    assert set(body) == {"error"}, body
    assert set(body["error"]) == {"code", "message", "fields"}, body
    assert body["error"]["code"] == code, body
    return body["error"]
