"""Evidence on the case page: upload (with or without JavaScript), download, and the record export."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, JsonResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_GET, require_POST

from odr.errors import DomainError, NotFound, ValidationFailed, error_body, error_text

from . import services, uploads
from .api import check_upload, download_response, too_large


def _back(case_id, anchor="h-evidence"):
    return redirect(reverse("case-detail", args=[case_id]) + f"#{anchor}")


@csrf_exempt  # the size limit must be installed before the CSRF check reads the body; checked just below
@require_POST
@login_required
def evidence_upload(request, case_id):
    uploads.install(request)
    return _evidence_upload(request, case_id)


@csrf_protect
def _evidence_upload(request, case_id):
    wants_json = "application/json" in request.headers.get("Accept", "")
    try:
        check_upload(request.user, case_id)
        if request.evidence_too_large:
            raise too_large()
        upload = request.FILES.get("file")
        if request.evidence_too_large:
            raise too_large()
        if upload is None:
            raise ValidationFailed(fields={"file": [_("Choose a file to upload.")]})
        evidence = services.evidence_add(
            actor=request.user, case_id=case_id, upload=upload, description=request.POST.get("description", "")[:500]
        )
    except NotFound:
        raise Http404 from None
    except DomainError as exc:
        if wants_json:
            return JsonResponse(error_body(exc.code, exc.message, exc.fields), status=exc.status_code)
        messages.error(request, error_text(exc))
        return _back(case_id)
    if wants_json:
        return JsonResponse(
            {"id": str(evidence.pk), "filename": evidence.filename, "sha256": evidence.sha256}, status=201
        )
    messages.success(request, _("%(name)s is added to the case.") % {"name": evidence.filename})
    return _back(case_id)


@require_GET
@login_required
def evidence_download(request, case_id, evidence_id):
    try:
        evidence, chunks = services.evidence_open(actor=request.user, case_id=case_id, evidence_id=evidence_id)
    except NotFound:
        raise Http404 from None
    except DomainError as exc:
        messages.error(request, str(exc.message))
        return _back(case_id)
    return download_response(evidence, chunks)


@require_GET
@login_required
def case_export(request, case_id):
    from ..api.views import export_response

    try:
        return export_response(user=request.user, case_id=case_id)
    except NotFound:
        raise Http404 from None
    except DomainError as exc:
        messages.error(request, str(exc.message))
        return _back(case_id)
