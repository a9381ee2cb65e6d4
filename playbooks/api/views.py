"""``/api/v1/tasks/`` (the inbox over REST: the same FilterSet and visibility as the web inbox, and every action)
and ``/api/v1/playbooks/``.

Who sees which tasks: API keys see all (they are system integrations), staff see all, operators see their own and
their teams' tasks. Operators act on the tasks they see without any model permission (working the inbox is their
job); read-scope keys only read; admin-scope keys act as nobody in particular (no claim).
"""

from __future__ import annotations

from typing import Any, cast

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view, inline_serializer
from rest_framework import exceptions, mixins, permissions, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from klearly.api.permissions import ScopePermission
from klearly.api.viewsets import SHARED, ApiViewSetMixin
from klearly.models import ApiKey

from .. import services
from ..filters import TaskFilterSet
from ..models import Playbook, Task
from ..selectors import TASK_RELATED, assignees_for_user, playbook_list, task_comments, task_visibility_q
from ..services import TaskActionError
from .serializers import (
    AssignSerializer,
    BulkSerializer,
    CommentSerializer,
    CompleteSerializer,
    DismissSerializer,
    PlaybookSerializer,
    SnoozeSerializer,
    TaskCommentSerializer,
    TaskSerializer,
)

COUNT = inline_serializer("BulkResult", fields={"updated": serializers.IntegerField()})


class TaskPermission(ScopePermission):
    """Keys by scope (as everywhere); logged-in operators may read and work the tasks they can see."""

    def has_permission(self, request: Request, view: APIView) -> bool:
        if request.auth is None and request.user and request.user.is_authenticated:
            return True
        return super().has_permission(request, view)


def _actor(request: Request) -> Any:
    """The Django user acting, or None for an API key."""
    return None if isinstance(request.auth, ApiKey) else request.user


def _bad(exc: TaskActionError) -> exceptions.ValidationError:
    return exceptions.ValidationError({exc.field or "non_field_errors": [exc.message]})


@extend_schema_view(
    list=extend_schema(summary="List tasks (the inbox): ?view=mine|team|unassigned, filters, ?ordering="),
    retrieve=extend_schema(summary="A task with its reason"),
)
class TaskViewSet(ApiViewSetMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = TaskSerializer
    filterset_class = TaskFilterSet
    permission_classes = (TaskPermission,)
    queryset = Task.objects.none()  # for the schema; get_queryset decides

    def get_queryset(self) -> QuerySet[Task]:
        return Task.objects.select_related(*TASK_RELATED).order_by("-priority", "due_at", "-id")

    def visible_rows(self, queryset: QuerySet) -> QuerySet:
        """The inbox's rule (not the accounts'): API keys and admins see every task, operators their own and their
        teams'. Applied to the list, every task URL and every action (``filter_queryset``)."""
        if isinstance(self.request.auth, ApiKey):
            return queryset
        return queryset.filter(task_visibility_q(user=self.request.user))

    def _assignees(self) -> QuerySet:
        """The people this caller may give a task to: the web form's choices (every active user for a key)."""
        return assignees_for_user(user=_AllSeeing() if _actor(self.request) is None else self.request.user)

    def _act(self, request: Request, serializer_class: type | None, do: Any) -> Response:
        task = cast(Task, self.get_object())
        data: dict[str, Any] = {}
        if serializer_class is not None:
            body = serializer_class(data=request.data, context={"assignees": self._assignees()})
            body.is_valid(raise_exception=True)
            data = body.validated_data
        try:
            do(task, data)
        except TaskActionError as exc:
            raise _bad(exc) from None
        task = self.get_queryset().get(pk=task.pk)
        return Response(TaskSerializer(task).data)

    @extend_schema(summary="Take the task for yourself (operators)", request=None, responses=TaskSerializer)
    @action(detail=True, methods=["post"])
    def claim(self, request: Request, pk: str) -> Response:
        if _actor(request) is None:
            raise exceptions.ValidationError({"non_field_errors": ["An API key is nobody: use assign instead."]})
        return self._act(request, None, lambda task, d: services.task_claim(task=task, user=request.user))

    @extend_schema(summary="Give the task to someone (username; null: unassigned)", request=AssignSerializer,
                   responses=TaskSerializer)  # fmt: skip
    @action(detail=True, methods=["post"])
    def assign(self, request: Request, pk: str) -> Response:
        return self._act(request, AssignSerializer, lambda task, d: services.task_assign(
            task=task, assignee_id=d["assignee"].pk if d["assignee"] else None, by=_actor(request)))  # fmt: skip

    @extend_schema(summary="Snooze until a date", request=SnoozeSerializer, responses=TaskSerializer)
    @action(detail=True, methods=["post"])
    def snooze(self, request: Request, pk: str) -> Response:
        return self._act(request, SnoozeSerializer, lambda task, d: services.task_snooze(task=task, until=d["until"]))

    @extend_schema(summary="Complete with an outcome", request=CompleteSerializer, responses=TaskSerializer)
    @action(detail=True, methods=["post"])
    def complete(self, request: Request, pk: str) -> Response:
        return self._act(request, CompleteSerializer, lambda task, d: services.task_complete(
            task=task, outcome=d["outcome"], by=_actor(request), note=d.get("note", "")))  # fmt: skip

    @extend_schema(summary="Dismiss with a reason", request=DismissSerializer, responses=TaskSerializer)
    @action(detail=True, methods=["post"])
    def dismiss(self, request: Request, pk: str) -> Response:
        return self._act(request, DismissSerializer, lambda task, d: services.task_dismiss(
            task=task, reason=d["reason"], by=_actor(request), note=d.get("note", "")))  # fmt: skip

    @extend_schema(methods=["get"], summary="A task's comments", responses=TaskCommentSerializer(many=True))
    @extend_schema(methods=["post"], summary="Comment on a task", request=CommentSerializer,
                   responses={201: TaskCommentSerializer})  # fmt: skip
    @action(detail=True, methods=["get", "post"], filter_backends=[])  # the task filters do not apply here
    def comments(self, request: Request, pk: str) -> Response:
        task = cast(Task, self.get_object())
        if request.method == "GET":
            page = self.paginate_queryset(task_comments(task=task))
            return self.get_paginated_response(TaskCommentSerializer(page, many=True).data)
        body = CommentSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            comment = services.task_comment(task=task, body=body.validated_data["body"], by=_actor(request))
        except TaskActionError as exc:
            raise _bad(exc) from None
        return Response(TaskCommentSerializer(comment).data, status=status.HTTP_201_CREATED)

    @extend_schema(summary="One action on many tasks (one UPDATE); tasks you cannot see or already closed are "
                   "skipped", request=BulkSerializer, responses={200: COUNT, 400: OpenApiResponse(description="Bad "
                   "input, by field")})  # fmt: skip
    @action(detail=False, methods=["post"])
    def bulk(self, request: Request) -> Response:
        body = BulkSerializer(data=request.data, context={"assignees": self._assignees()})
        body.is_valid(raise_exception=True)
        d = body.validated_data
        user = request.user if _actor(request) is not None else _AllSeeing()
        ids = d["ids"]
        try:
            if d["action"] == "claim":
                if _actor(request) is None:
                    raise TaskActionError("An API key is nobody: use assign instead.", field="action")
                updated = services.tasks_bulk_claim(task_ids=ids, user=user)
            elif d["action"] == "assign":
                assignee = d["assignee"]
                updated = services.tasks_bulk_assign(
                    task_ids=ids, assignee_id=assignee.pk if assignee else None, user=user
                )
            elif d["action"] == "snooze":
                updated = services.tasks_bulk_snooze(task_ids=ids, until=d["until"], user=user)
            elif d["action"] == "complete":
                updated = services.tasks_bulk_complete(task_ids=ids, outcome=d["outcome"], user=user)
            else:
                updated = services.tasks_bulk_dismiss(task_ids=ids, reason=d["reason"], user=user)
        except TaskActionError as exc:
            raise _bad(exc) from None
        return Response({"updated": updated})


class _AllSeeing:
    """The visibility of an API key in bulk actions: every task (as the list shows); closes as nobody."""

    is_staff = True
    is_active = True
    is_authenticated = True
    pk = None


@extend_schema_view(
    list=extend_schema(summary="List playbooks"),
    retrieve=extend_schema(summary="A playbook"),
    create=extend_schema(summary="Create a playbook (admin scope or the add permission)"),
    partial_update=extend_schema(summary="Change a playbook"),
    update=extend_schema(summary="Replace a playbook"),
    destroy=extend_schema(summary="Delete a playbook (its tasks stay)"),
)
class PlaybookViewSet(ApiViewSetMixin, viewsets.ModelViewSet):
    serializer_class = PlaybookSerializer
    queryset = Playbook.objects.none()
    account_path = SHARED

    def get_queryset(self) -> QuerySet[Playbook]:
        return playbook_list()

    def get_permissions(self) -> list[permissions.BasePermission]:
        return [ScopePermission()]
