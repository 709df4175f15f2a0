"""API authentication that also speaks the caller's language.

``UserLocaleMiddleware`` runs before DRF authenticates a token, so it sees token callers as anonymous;
once the token names the user, their language is activated here for the rest of the request (error
messages, labels and the jurisdiction engine's reasons).
"""

from django.utils import translation
from rest_framework import authentication


class TokenAuthentication(authentication.TokenAuthentication):
    def authenticate(self, request):
        result = super().authenticate(request)
        if result is not None and getattr(result[0], "language", None):
            translation.activate(result[0].language)
            request._request.LANGUAGE_CODE = translation.get_language()
        return result
