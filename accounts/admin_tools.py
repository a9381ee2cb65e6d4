"""Admin helpers shared by every app: a paginator that never counts a whole big table."""

from __future__ import annotations

from typing import ClassVar

from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.utils.functional import cached_property

COUNT_CAP = 10_000


class CappedCountPaginator(Paginator):
    """Counts at most ``COUNT_CAP + 1`` rows (``SELECT COUNT(*) FROM (... LIMIT n)``), so a changelist over
    millions of signals pages in milliseconds; beyond the cap the admin shows the first pages only."""

    @cached_property
    def count(self) -> int:
        object_list = self.object_list
        if isinstance(object_list, QuerySet):
            try:
                return object_list.values("pk")[: COUNT_CAP + 1].count()
            except TypeError:  # e.g. a query that cannot take values()
                pass
        return len(object_list)


class BigTableAdminMixin:
    """For tables that grow without bound: no full result count, capped page count."""

    paginator: ClassVar[type] = CappedCountPaginator
    show_full_result_count = False
    list_per_page = 50
