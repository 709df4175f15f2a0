"""Small helpers the case page's panels share (mediation, arbitration): run a service from a form and
come back to the case page with what happened."""

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect
from django.urls import reverse

from odr.errors import DomainError, NotFound, error_text

from . import selectors


def back_to_case(case_id, anchor):
    return redirect(reverse("case-detail", args=[case_id]) + f"#{anchor}")


def act_and_return(request, case_id, anchor, call, done_message):
    """Run ``call`` (a service call), then back to the case page at ``anchor`` with its message."""
    try:
        call()
    except NotFound:
        raise Http404 from None
    except DomainError as exc:
        messages.error(request, error_text(exc))
        return back_to_case(case_id, anchor)
    messages.success(request, done_message)
    return back_to_case(case_id, anchor)


def case_or_404(request, case_id):
    try:
        return selectors.case_get_for(request.user, case_id)
    except NotFound:
        raise Http404 from None
