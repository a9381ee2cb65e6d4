"""Which rows an ``/api/v1/`` caller may read or change: the web pages' rule, applied to the API.

- **Operators (sessions)** see the accounts the web shows them (``playbooks.selectors.account_visibility_q``: owned
  by them or a teammate, or with a task of theirs or of their teams) and only what hangs off those accounts:
  contacts, signals, stage transitions, scores and their history, rule hits, segment members. Tasks follow the
  inbox's rule (``task_visibility_q``). Anything else is a 404, for reads and writes alike, and a related account
  named in a write (``account_external_id``) must be one of theirs.
- **Admins** (staff users) see everything, as on the web.
- **API keys** (``klearly.ApiKey``, read or admin scope) see everything: they are server-to-server integrations an
  admin made in the admin (a CRM sync, a warehouse export), not people in a team. Give a system a key only if it may
  read every account.
- **Write keys** read nothing (``ScopePermission`` refuses them before any query).

Shared configuration (journey stages, signal types and topics, segment definitions, playbooks, predictive models)
is readable by every caller who may read the API.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet
from rest_framework.request import Request

from klearly.models import ApiKey
from signals_app.models import WriteKey


def caller_sees_all(request: Request | None) -> bool:
    """API keys and admins see every account; operators their own and their teams'; anyone else nothing."""
    if request is None:
        return False
    if isinstance(request.auth, ApiKey):
        return True
    if isinstance(request.auth, WriteKey):
        return False
    from playbooks.selectors import user_sees_all

    return user_sees_all(request.user)


def visible_accounts_q(request: Request | None, *, account_path: str = "") -> Q:
    """The condition "the row's account is visible to the caller" on a model whose account is at ``account_path``
    (``""`` for accounts themselves, ``"account"`` for contacts, signals, scores…)."""
    if caller_sees_all(request):
        return Q()
    user: Any = getattr(request, "user", None)
    if request is None or isinstance(request.auth, WriteKey) or not getattr(user, "is_authenticated", False):
        return Q(pk__in=[])
    from playbooks.selectors import account_visibility_q

    return account_visibility_q(user=user, prefix=f"{account_path}__" if account_path else "")


def visible(queryset: QuerySet, request: Request | None, *, account_path: str = "") -> QuerySet:
    """``queryset`` limited to the rows whose account the caller may see."""
    condition = visible_accounts_q(request, account_path=account_path)
    return queryset.filter(condition) if condition else queryset
