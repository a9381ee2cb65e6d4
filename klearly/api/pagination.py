"""Pagination: a cursor for signals and stage transitions (big, time-ordered, never counted), page numbers for the
rest. Every kind has a maximum page size."""

from __future__ import annotations

from rest_framework.pagination import CursorPagination, PageNumberPagination


class PagePagination(PageNumberPagination):
    """``?page=2&page_size=100`` (up to 500), with a total ``count``."""

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500


class NewestFirstCursorPagination(CursorPagination):
    """``?cursor=…`` from the ``next``/``previous`` links, newest first; ``page_size`` up to 1000. Rows with the
    same time keep a stable order by id, so walking the pages returns each row once."""

    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = 1000


class SignalCursorPagination(NewestFirstCursorPagination):
    ordering = ("-occurred_at", "-id")


class StageTransitionCursorPagination(NewestFirstCursorPagination):
    ordering = ("-changed_at", "-id")
