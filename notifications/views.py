"""The notifications page: the user's notices, newest first, marked read when opened."""

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from odr.errors import NotFound

from . import selectors, services


@login_required
def notification_list(request):
    page = Paginator(selectors.notification_list_for(request.user), 30).get_page(request.GET.get("page"))
    return render(request, "notifications/list.html", {"page": page})


@login_required
@require_POST
def notification_open(request, notification_id):
    try:
        notification = services.notification_mark_read(user=request.user, notification_id=notification_id)
    except NotFound:
        raise Http404 from None
    if notification.alert_id is not None:
        return redirect(f"{reverse('oversight-dashboard')}#alert-{notification.alert_id}")
    return redirect("case-detail", case_id=notification.case_id)
