"""An upload handler that stops a file at ``ODR_EVIDENCE_MAX_BYTES``: the rest is read and thrown away,
nothing past the limit is written anywhere, and the view answers 413.

It must be installed before anything reads the body (Django's CSRF check reads ``request.POST``), so
the views put it first in ``request.upload_handlers`` and only then check CSRF.
"""

from django.conf import settings
from django.core.files.uploadhandler import FileUploadHandler, SkipFile


class SizeLimitHandler(FileUploadHandler):
    def __init__(self, request=None):
        super().__init__(request)
        self.received = 0

    def new_file(self, *args, **kwargs):
        super().new_file(*args, **kwargs)
        self.received = 0

    def receive_data_chunk(self, raw_data, start):
        self.received += len(raw_data)
        if self.received > settings.ODR_EVIDENCE_MAX_BYTES:
            self.request.evidence_too_large = True
            raise SkipFile()
        return raw_data

    def file_complete(self, file_size):
        return None


def install(request) -> None:
    """Put the size limit first; refuse at once a body that announces itself as too large."""
    request.upload_handlers.insert(0, SizeLimitHandler(request))
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    # A little room for the multipart envelope and the description field.
    request.evidence_too_large = length > settings.ODR_EVIDENCE_MAX_BYTES + 64 * 1024
