from celery import shared_task

from . import risk


@shared_task(name="oversight.risk_scan")
def risk_scan() -> int:
    """Flag merchants and markets for the operators and rescore the merchant table (beat, hourly)."""
    return len(risk.scan())
