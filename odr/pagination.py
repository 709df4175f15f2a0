"""Cursor pagination for every list: ``{"results": [...], "next": url|null, "previous": url|null}``."""

from rest_framework import pagination


class CursorPagination(pagination.CursorPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200
    ordering = "-created_at"
