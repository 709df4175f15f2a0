"""The embedded default's worker: on one machine without Redis, the web process sweeps deadlines itself.

Started by ``odr.asgi`` when ``ODR_EMBEDDED_SWEEP`` is on (``make run`` sets it): a daemon thread calling
the same ``deadline_sweep`` that Celery beat schedules in a deployment.
"""

import logging
import threading

from django.conf import settings
from django.db import close_old_connections

logger = logging.getLogger(__name__)
_started = threading.Event()


def _loop(stop: threading.Event) -> None:
    from cases.deadlines import sweep_all
    from notifications.services import delivery_retry_sweep

    while not stop.wait(settings.ODR_SWEEP_SECONDS):
        try:
            delivery_retry_sweep()
            done = sweep_all()
            if any(done.values()):
                logger.info("embedded sweep: %s", done)
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
