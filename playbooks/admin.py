"""Playbooks admin: playbooks tuned by RevOps (every configuration error shown on its field), teams, experiments
with their results, and fast read-mostly lists of runs, tasks and webhook deliveries."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django import forms
from django.contrib import admin
from django.http import HttpRequest
from django.utils.html import format_html, format_html_join

from accounts.admin_tools import BigTableAdminMixin

from .models import ExperimentGroup, Playbook, PlaybookRun, Task, TaskComment, Team, WebhookDelivery

if TYPE_CHECKING:
    from typing import TypedDict

    from django_stubs_ext import WithAnnotations  # a model instance with its queryset's annotations

    class _Members(TypedDict):
        n_members: int


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ("name", "member_count", "created_at")
    search_fields = ("name",)
    filter_horizontal = ("members",)

    def get_queryset(self, request: HttpRequest):
        from django.db.models import Count

        return super().get_queryset(request).annotate(n_members=Count("members"))

    @admin.display(description="members", ordering="n_members")
    def member_count(self, obj: WithAnnotations[Team, _Members]) -> int:
        return obj.n_members


class VariantInline(admin.TabularInline):
    model = Playbook
    fields = ("name", "variant", "is_active", "trigger_kind", "create_task")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


@admin.register(ExperimentGroup)
class ExperimentGroupAdmin(admin.ModelAdmin):
    """An experiment: its variants (playbooks of the group) and how each converts, with 95% Wilson intervals."""

    list_display = ("name", "is_active", "created_at")
    search_fields = ("name",)
    inlines = [VariantInline]
    readonly_fields = ("results",)
    fields = ("name", "description", "is_active", "results")

    @admin.display(description="Results per variant")
    def results(self, obj: ExperimentGroup) -> str:
        if not obj.pk:
            return "Save the group, then add playbooks to it as variants."
        from .experiments import experiment_results

        rows = experiment_results(group=obj)
        if not rows:
            return "No variants yet: set this group and a variant name on two or more playbooks."
        head = format_html(
            "<tr><th>Variant</th><th>Playbook</th><th>Entries</th><th>Goals reached</th><th>Settled</th>"
            "<th>Conversion</th><th>95% interval</th></tr>"
        )
        body = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{} – {}</td></tr>",
            ((r.variant, r.name, r.entries, r.reached, r.settled, f"{r.rate:.1%}", f"{r.low:.1%}", f"{r.high:.1%}")
             for r in rows),
        )  # fmt: skip
        note = format_html(
            "<p>Accounts are assigned to a variant by a hash of the group and the account: the same account always "
            "gets the same variant. Intervals that overlap mean the difference may be chance.</p>"
        )
        return format_html("<table>{}{}</table>{}", head, body, note)


class PlaybookAdminForm(forms.ModelForm):
    """The playbook form; its webhook secret is never sent back to the browser: a password box that keeps the
    current secret when left blank (tick "remove" to clear it)."""

    webhook_secret = forms.CharField(
        required=False,
        max_length=200,
        strip=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text="Signs the payload (X-Klearly-Signature: sha256=HMAC of the body). Never shown again once saved.",
    )
    clear_webhook_secret = forms.BooleanField(required=False, label="Remove the webhook secret")

    class Meta:
        model = Playbook
        fields = ("webhook_url", "webhook_secret")  # the admin adds the fieldsets' other fields

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk and self.instance.webhook_secret:
            field = self.fields["webhook_secret"]
            field.help_text = "A secret is set (not shown). Leave blank to keep it; type a new one to replace it."

    def clean(self) -> dict:
        data = super().clean()
        assert data is not None  # Form.clean returns cleaned_data
        if data.get("clear_webhook_secret"):
            data["webhook_secret"] = ""
        elif not data.get("webhook_secret"):
            data["webhook_secret"] = self.instance.webhook_secret if self.instance.pk else ""
        return data


@admin.register(Playbook)
class PlaybookAdmin(admin.ModelAdmin):
    form = PlaybookAdminForm
    list_display = ("name", "is_active", "trigger_kind", "assign_mode", "priority", "cooldown_days", "is_switch",
                    "goal_kind", "experiment_group", "variant")  # fmt: skip
    list_filter = ("is_active", "trigger_kind", "assign_mode", "is_switch", "goal_kind", "experiment_group")
    list_select_related = ("experiment_group",)
    search_fields = ("name", "description")
    autocomplete_fields = ("assign_user", "assign_team")
    fieldsets = (
        (None, {"fields": ("name", "description", "is_active")}),
        ("Trigger", {"fields": ("trigger_kind", "trigger_params")}),
        ("Conditions on the account", {"fields": ("conditions",)}),
        ("Task", {"fields": ("create_task", "task_title_template", "task_body_template", "assign_mode",
                             "assign_team", "assign_user", "due_in_business_days", "priority")}),
        ("Webhook", {"fields": ("webhook_url", "webhook_secret", "clear_webhook_secret"), "classes": ("collapse",)}),
        ("No noise", {"fields": ("cooldown_days", "is_switch")}),
        ("Goal", {"fields": ("goal_kind", "goal_stage", "goal_within_days")}),
        ("Experiment", {"fields": ("experiment_group", "variant"), "classes": ("collapse",)}),
    )  # fmt: skip


@admin.register(PlaybookRun)
class PlaybookRunAdmin(BigTableAdminMixin, admin.ModelAdmin):
    list_display = ("playbook", "account", "variant", "reason_key", "fired_at", "goal_deadline", "goal_reached_at")
    list_filter = ("playbook", "variant")
    list_select_related = ("playbook", "account")
    raw_id_fields = ("account", "playbook")
    date_hierarchy = None
    search_fields = ("account__external_id",)
    readonly_fields = ("playbook", "account", "reason_key", "variant", "trigger", "fired_at", "goal_deadline",
                       "goal_reached_at", "goal_checked_at")  # fmt: skip

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


class TaskCommentInline(admin.TabularInline):
    model = TaskComment
    fields = ("author", "body", "created_at")
    readonly_fields = ("author", "created_at")
    extra = 0


@admin.register(Task)
class TaskAdmin(BigTableAdminMixin, admin.ModelAdmin):
    list_display = ("title", "account", "playbook", "status", "priority", "due_at", "assignee", "team", "created_at")
    list_filter = ("status", "priority", "playbook", "team")
    list_select_related = ("account", "playbook", "assignee", "team")
    raw_id_fields = ("account", "run", "assignee", "closed_by")
    autocomplete_fields = ("team",)
    search_fields = ("account__external_id", "title")
    readonly_fields = ("reason", "reason_key", "run", "created_at", "closed_at", "closed_by")
    inlines = [TaskCommentInline]


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(BigTableAdminMixin, admin.ModelAdmin):
    list_display = ("url", "playbook", "status", "attempts", "status_code", "created_at", "delivered_at", "error")
    list_filter = ("status", "playbook")
    list_select_related = ("playbook",)
    readonly_fields = [f.name for f in WebhookDelivery._meta.concrete_fields]
    actions = ["send_again"]

    @admin.action(description="Send the selected deliveries again now")
    def send_again(self, request: HttpRequest, queryset) -> None:
        from django.db import transaction

        from .choices import DeliveryStatus
        from .deliveries import deliveries_enqueue

        ids = list(queryset.exclude(status=DeliveryStatus.DELIVERED).values_list("pk", flat=True)[:1000])
        WebhookDelivery.objects.filter(pk__in=ids).update(status=DeliveryStatus.PENDING, next_retry_at=None)
        transaction.on_commit(lambda: deliveries_enqueue(ids))
        self.message_user(request, f"{len(ids)} deliveries queued (delivered ones are not sent twice).")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False
