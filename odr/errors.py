"""The one error system: domain errors and the API exception handler that gives every error one shape.

Every API error reads ``{"error": {"code": ..., "message": ..., "fields": {...}}}``. Domain code raises
subclasses of :class:`DomainError`; django-fsm's refusals become 409; DRF's own exceptions keep their
status and get the same shape.
"""

import logging

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404
from django.utils.translation import gettext_lazy as _
from django_fsm import ConcurrentTransition, TransitionNotAllowed
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import set_rollback

logger = logging.getLogger(__name__)


class DomainError(Exception):
    """Base of every error the domain raises on purpose; carries an HTTP status for the API."""

    status_code = status.HTTP_400_BAD_REQUEST
    code = "invalid"
    default_message = _("The request is invalid.")

    def __init__(self, message=None, *, code=None, fields=None):
        self.message = message or self.default_message
        if code:
            self.code = code
        self.fields = fields or {}
        super().__init__(str(self.message))


class ValidationFailed(DomainError):
    status_code = status.HTTP_400_BAD_REQUEST
    code = "invalid"


class NotFound(DomainError):
    status_code = status.HTTP_404_NOT_FOUND
    code = "not_found"
    default_message = _("Not found.")


class Forbidden(DomainError):
    status_code = status.HTTP_403_FORBIDDEN
    code = "forbidden"
    default_message = _("You are not permitted to do this.")


class Conflict(DomainError):
    status_code = status.HTTP_409_CONFLICT
    code = "invalid_state"
    default_message = _("This action is not allowed in the case's current state.")


class IdempotencyKeyReused(DomainError):
    status_code = 422
    code = "idempotency_key_reused"
    default_message = _("This Idempotency-Key was already used with a different request body.")


class PayloadTooLarge(DomainError):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    code = "too_large"
    default_message = _("The file is too large.")


class UnsupportedType(DomainError):
    status_code = status.HTTP_415_UNSUPPORTED_MEDIA_TYPE
    code = "unsupported_type"
    default_message = _("This type of file is not accepted.")


class Gone(DomainError):
    status_code = status.HTTP_410_GONE
    code = "erased"
    default_message = _("This file was erased on a data-protection request.")


class ServiceUnavailable(DomainError):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    code = "unavailable"
    default_message = _("This is not available now; the operators have been told.")


class IntegrityFailure(DomainError):
    """Stored data no longer matches what the event log recorded: refused, recorded and alerted."""

    status_code = status.HTTP_409_CONFLICT
    code = "integrity_failure"
    default_message = _("The stored file does not match its recorded hash; the operators have been alerted.")


def uuids(values, *, field: str) -> list:
    """``values`` as UUIDs (any spelling Python accepts); 400 on ``field`` naming the first that is not."""
    import uuid

    parsed = []
    for value in values or []:
        try:
            parsed.append(value if isinstance(value, uuid.UUID) else uuid.UUID(str(value)))
        except ValueError:
            raise ValidationFailed(fields={field: [_("“%(value)s” is not a valid id.") % {"value": value}]}) from None
    return parsed


def error_text(exc: DomainError) -> str:
    """The error and its field messages as one sentence, for a page's flash message."""
    return " ".join([str(exc.message), *(str(m) for messages in exc.fields.values() for m in messages)])


def flatten_errors(detail, prefix=""):
    """Turn DRF's nested error detail into ``{"order.price.currency": ["..."]}``."""
    if isinstance(detail, dict):
        out = {}
        for key, value in detail.items():
            # A nested object's own errors (e.g. "order" given as a string) belong to that field.
            if prefix and key == api_settings.NON_FIELD_ERRORS_KEY:
                name = prefix
            else:
                name = f"{prefix}.{key}" if prefix else str(key)
            out.update(flatten_errors(value, name))
        return out
    if isinstance(detail, list):
        if all(not isinstance(item, dict | list) for item in detail):
            return {prefix or "non_field_errors": [str(item) for item in detail]}
        out = {}
        for index, value in enumerate(detail):
            if value:
                out.update(flatten_errors(value, f"{prefix}.{index}" if prefix else str(index)))
        return out
    return {prefix or "non_field_errors": [str(detail)]}


def error_body(code, message, fields=None):
    return {"error": {"code": code, "message": str(message), "fields": fields or {}}}


_DRF_CODES = {
    exceptions.NotAuthenticated: "not_authenticated",
    exceptions.AuthenticationFailed: "authentication_failed",
    exceptions.PermissionDenied: "forbidden",
    exceptions.NotFound: "not_found",
    exceptions.MethodNotAllowed: "method_not_allowed",
    exceptions.NotAcceptable: "not_acceptable",
    exceptions.UnsupportedMediaType: "unsupported_media_type",
    exceptions.Throttled: "throttled",
    exceptions.ParseError: "parse_error",
}


def api_exception_handler(exc, context):
    """DRF exception handler: every error in the API's one shape, and the transaction rolled back."""
    headers = {}
    if isinstance(exc, DomainError):
        set_rollback()
        body = error_body(exc.code, exc.message, exc.fields)
        return Response(body, status=exc.status_code)
    if isinstance(exc, TransitionNotAllowed | ConcurrentTransition):
        set_rollback()
        return Response(error_body(Conflict.code, Conflict.default_message), status=409)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    if not isinstance(exc, exceptions.APIException):
        return None  # a real bug: let Django log it and answer 500
    set_rollback()
    if getattr(exc, "auth_header", None):
        headers["WWW-Authenticate"] = exc.auth_header
    if getattr(exc, "wait", None):
        headers["Retry-After"] = str(int(exc.wait))
    if isinstance(exc, exceptions.ValidationError):
        fields = flatten_errors(exc.detail)
        return Response(
            error_body("invalid", _("The request is invalid; see the field errors."), fields),
            status=exc.status_code,
            headers=headers,
        )
    code = _DRF_CODES.get(type(exc)) or getattr(exc, "default_code", "error")
    message = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
    return Response(error_body(code, message), status=exc.status_code, headers=headers)
