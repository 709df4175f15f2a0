"""Filing and acting on cases through the services, and verifying their chains, on the configured database.

Runs in a throw-away database (the test runner's) so it never touches real data. Figures: cases filed
per second (one client), a full lifecycle (filed -> closed, 8 actions) per second, chain verification
of a 200-event case; each the median of 5 runs with min-max spread.
"""

import statistics
import time
from decimal import Decimal


def _figure(label, samples, unit):
    med = statistics.median(samples)
    return f"{label}: median {med:,.1f} {unit} (min {min(samples):,.1f}, max {max(samples):,.1f}, n={len(samples)})"


def run() -> list[str]:
    import logging

    from django.conf import settings
    from django.db import connection
    from django.test.utils import setup_test_environment, teardown_test_environment

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    # Notices are part of every write (outbox rows, and with no Redis their delivery runs on commit);
    # keep the e-mails in memory and the task log quiet so the figures measure the work, not the console.
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    logging.getLogger("celery").setLevel(logging.WARNING)
    setup_test_environment()
    old_name = connection.settings_dict["NAME"]
    connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    try:
        return _measure(connection.vendor)
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)
        teardown_test_environment()


def _measure(vendor) -> list[str]:
    from django.db import transaction

    from cases.events import chain_verify, event_append
    from cases.models import Case
    from tests.factories import Cast, case_in, file_case

    cast = Cast.make()
    filing, lifecycle, verify = [], [], []
    for _run in range(5):
        n = 200
        start = time.perf_counter()
        for _ in range(n):
            file_case(cast)
        filing.append(n / (time.perf_counter() - start))

        n = 40
        start = time.perf_counter()
        for _ in range(n):
            case_in("closed", cast)
        lifecycle.append(n / (time.perf_counter() - start))

    case = file_case(cast)
    for i in range(198):
        with transaction.atomic():
            locked = Case.objects.select_for_update().get(pk=case.pk)
            event_append(case=locked, type="note", payload={"i": i, "amount": Decimal("1.00")})
    for _run in range(5):
        start = time.perf_counter()
        report = chain_verify(case)
        verify.append((time.perf_counter() - start) * 1000)
        assert report.ok and report.count == 200
    return [
        f"database: {vendor}",
        _figure("filing (service, one client)", filing, "cases/s"),
        _figure("full lifecycle filed->closed (9 writes)", lifecycle, "cases/s"),
        _figure("verify a 200-event chain", verify, "ms"),
    ]
