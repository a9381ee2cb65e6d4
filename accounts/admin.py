"""Admin for accounts, contacts, the journey and segments. Reads go through selectors; writes through services."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from . import selectors, services
from .admin_tools import BigTableAdminMixin
from .models import Account, Contact, JourneyStage, Segment, SegmentMembership, StageTransition

if TYPE_CHECKING:
    from django.contrib.admin.options import _FieldOpts  # django-stubs' type of a fieldset's options


@admin.register(JourneyStage)
class JourneyStageAdmin(admin.ModelAdmin):
    list_display = ("name", "key", "kind", "rank", "position", "applies_to")
    list_editable = ("rank", "position")
    list_filter = ("kind", "applies_to")
    search_fields = ("name", "key")
    prepopulated_fields = {"key": ("name",)}


class StageTransitionInline(admin.TabularInline):
    model = StageTransition
    fk_name = "account"
    extra = 0
    fields = ("changed_at", "from_stage", "to_stage", "movement")
    readonly_fields = ("changed_at", "from_stage", "to_stage", "movement")
    can_delete = False
    show_change_link = True
    verbose_name_plural = "Stage history"

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).select_related("account", "from_stage", "to_stage")


def html_table(headers: tuple[str, ...], rows) -> str:
    head = format_html_join("", "<th>{}</th>", ((h,) for h in headers))
    body = format_html_join(
        "", "<tr>{}</tr>", ((format_html_join("", "<td>{}</td>", ((c,) for c in r)),) for r in rows)
    )
    return format_html('<table class="klearly-mini"><thead><tr>{}</tr></thead><tbody>{}</tbody></table>', head, body)


@admin.register(Account)
class AccountAdmin(BigTableAdminMixin, admin.ModelAdmin):
    list_display = ("name", "external_id", "domain", "industry", "employees", "country", "stage", "owner", "created_at")
    list_select_related = ("stage", "owner")
    list_filter = ("stage", "industry", ("owner", admin.RelatedOnlyFieldListFilter))
    search_fields = ("=external_id", "name", "domain")
    autocomplete_fields = ("owner", "stage")
    # Typed as tuples of any length: the signals app's admin extends both.
    readonly_fields: ClassVar[tuple[str, ...]] = ("stage", "stage_changed_at", "updated_at", "contacts_table")
    fieldsets: ClassVar[tuple[tuple[str | None, _FieldOpts], ...]] = (
        (None, {"fields": ("external_id", "name", "domain", "industry", "employees", "annual_revenue", "country")}),
        ("Journey", {"fields": ("owner", "stage", "stage_changed_at", "created_at", "updated_at")}),
        ("Traits", {"fields": ("traits",), "classes": ("collapse",)}),
        ("Contacts", {"fields": ("contacts_table",)}),
    )
    inlines = [StageTransitionInline]

    @admin.display(description="Contacts (most recently seen first)")
    def contacts_table(self, obj: Account) -> str:
        if not obj.pk:
            return "—"
        contacts = selectors.contact_list_for_account(account=obj, limit=50)
        rows = [
            (
                format_html('<a href="{}">{}</a>', reverse("admin:accounts_contact_change", args=[c.pk]), str(c)),
                c.email,
                c.title,
                c.last_seen_at.strftime("%Y-%m-%d %H:%M") if c.last_seen_at else "—",
            )
            for c in contacts
        ]
        more = format_html(
            '<p><a href="{}?account__id__exact={}">All contacts of this account</a></p>',
            reverse("admin:accounts_contact_changelist"),
            obj.pk,
        )
        return (
            format_html("{}{}", html_table(("Name", "Email", "Title", "Last seen"), rows), more)
            if rows
            else "None yet."
        )


@admin.register(Contact)
class ContactAdmin(BigTableAdminMixin, admin.ModelAdmin):
    list_display = ("__str__", "email", "title", "account", "last_seen_at", "created_at")
    list_select_related = ("account",)
    search_fields = ("=external_id", "email", "last_name")
    autocomplete_fields = ("account", "stage")
    list_filter = ("stage",)
    readonly_fields: ClassVar[tuple[str, ...]] = ("last_seen_at",)  # the signals app's admin extends it


@admin.register(StageTransition)
class StageTransitionAdmin(BigTableAdminMixin, admin.ModelAdmin):
    list_display = ("account", "from_stage", "to_stage", "movement", "changed_at")
    list_select_related = ("account", "from_stage", "to_stage")
    list_filter = ("movement", "to_stage")
    search_fields = ("=account__external_id", "account__name")
    autocomplete_fields = ("account", "to_stage")
    readonly_fields = ("from_stage", "movement", "recorded_at")
    date_hierarchy = None

    def save_model(self, request, obj: StageTransition, form, change: bool) -> None:
        # The movement and origin are derived from the account's whole history, never typed by hand.
        obj.movement = obj.movement or "entry"
        super().save_model(request, obj, form, change)
        services.stage_history_rebuild(account_ids=[obj.account_id])

    def delete_model(self, request, obj: StageTransition) -> None:
        account_id = obj.account_id
        super().delete_model(request, obj)
        services.stage_history_rebuild(account_ids=[account_id])


class SegmentMembershipInline(admin.TabularInline):
    model = SegmentMembership
    extra = 0
    fields = ("account", "entered_at", "exited_at")
    readonly_fields = fields
    can_delete = False
    max_num = 0

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).select_related("account").filter(exited_at__isnull=True)


@admin.register(Segment)
class SegmentAdmin(admin.ModelAdmin):
    list_display = ("name", "is_active", "open_members", "evaluated_at")
    search_fields = ("name",)
    readonly_fields = ("evaluated_at", "open_members")
    actions = ["evaluate"]

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return selectors.segment_list_with_counts()

    @admin.display(description="Members now", ordering="open_members")
    def open_members(self, obj: Segment) -> int:
        return getattr(obj, "open_members", 0)

    @admin.action(description="Evaluate membership now")
    def evaluate(self, request: HttpRequest, queryset: QuerySet) -> None:
        for segment in queryset:
            entered, exited = services.segment_evaluate(segment=segment)
            self.message_user(request, f"{segment}: {entered} entered, {exited} left.", messages.SUCCESS)

    def save_model(self, request, obj: Segment, form, change: bool) -> None:
        super().save_model(request, obj, form, change)
        services.segment_evaluate(segment=obj)


@admin.register(SegmentMembership)
class SegmentMembershipAdmin(BigTableAdminMixin, admin.ModelAdmin):
    list_display = ("account", "segment", "entered_at", "exited_at")
    list_select_related = ("account", "segment")
    list_filter = ("segment",)
    search_fields = ("=account__external_id", "account__name")
    autocomplete_fields = ("account", "segment")
