"""The embedded default's worker: on one machine without Redis, the web process sweeps deadlines itself.

Started by ``odr.asgi`` when ``ODR_EMBEDDED_SWEEP`` is on (``make run`` sets it): a daemon thread calling
the same ``deadline_sweep`` (and, every ``ODR_RISK_SCAN_SECONDS``, the risk scan) that Celery beat
schedules in a deployment.
"""

import logging
import threading

from django.conf import settings
from django.db import close_old_connections

logger = logging.getLogger(__name__)
_started = threading.Event()


def _loop(stop: threading.Event) -> None:
    import time

    from cases.deadlines import sweep_all
    from notifications.services import delivery_retry_sweep
    from oversight.risk import scan

    next_scan = time.monotonic()
    while not stop.wait(settings.ODR_SWEEP_SECONDS):
        try:
            delivery_retry_sweep()
            done = sweep_all()
            if any(done.values()):
                logger.info("embedded sweep: %s", done)
            if time.monotonic() >= next_scan:  # the risk scan, as beat schedules it in a deployment
                next_scan = time.monotonic() + settings.ODR_RISK_SCAN_SECONDS
                scan()
        except Exception:
            logger.exception("embedded sweep failed")
        finally:
            close_old_connections()


def start_embedded_sweep() -> threading.Event | None:
    if not settings.ODR_EMBEDDED_SWEEP or _started.is_set():
        return None
    _started.set()
    stop = threading.Event()
    threading.Thread(target=_loop, args=(stop,), name="odr-embedded-sweep", daemon=True).start()
    logger.info("embedded deadline sweep every %s s", settings.ODR_SWEEP_SECONDS)
    return stop
