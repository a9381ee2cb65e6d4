"""Admin helpers shared by every app: a paginator that never counts a whole big table."""

from __future__ import annotations

from django.core.paginator import Paginator
from django.utils.functional import cached_property

COUNT_CAP = 10_000


class CappedCountPaginator(Paginator):
    """Counts at most ``COUNT_CAP + 1`` rows (``SELECT COUNT(*) FROM (... LIMIT n)``), so a changelist over
    millions of signals pages in milliseconds; beyond the cap the admin shows the first pages only."""

    @cached_property
    def count(self) -> int:
        try:
            return self.object_list.values("pk")[: COUNT_CAP + 1].count()
        except (AttributeError, TypeError):
            return len(self.object_list)


class BigTableAdminMixin:
    """For tables that grow without bound: no full result count, capped page count."""

    paginator = CappedCountPaginator
    show_full_result_count = False
    list_per_page = 50
