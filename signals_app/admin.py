"""Admin for signals, their types, topics and sources, import jobs; and CSV import/export for every kind.

The import/export admin for accounts, contacts and stage transitions is added here (ingestion is this app's
job), by extending the accounts admin classes, so ``accounts`` never imports ``signals_app``.
"""

from __future__ import annotations

import json

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.auth import get_permission_codename
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import FileResponse, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from import_export.admin import ImportExportMixin

from accounts import admin as accounts_admin
from accounts.admin_tools import BigTableAdminMixin, secret_shown_once_response
from accounts.models import Account, Contact, StageTransition

from . import selectors, services
from .choices import OWNABLE_FIELDS, ImportKind, ImportStatus
from .models import (
    EventMapping,
    ExportJob,
    ImportJob,
    IngestionSource,
    Signal,
    SignalTopic,
    SignalType,
    TraitsHistory,
    WriteKey,
)
from .privacy_admin import PersonAdminMixin
from .resources import RESOURCES, AccountResource, CheckedCSV, ContactResource, SignalResource, StageTransitionResource


class PartialImportMixin(ImportExportMixin):
    """django-import-export, but a file with some bad rows can still be confirmed: the preview lists every bad
    row with its line and reason, and confirming loads the good ones (the library refuses the whole file)."""

    import_error_display = ("message",)
    skip_admin_log = True
    import_formats = [CheckedCSV]  # read as import_csv reads: cell limit, quote checks, true line numbers

    def import_action(self, request: HttpRequest, **kwargs) -> HttpResponse:
        upload = request.FILES.get("import_file") if request.method == "POST" else None
        if (
            upload is not None
            and upload.size is not None
            and upload.size > settings.KLEARLY_ADMIN_IMPORT_INLINE_MAX_BYTES
            and self.has_import_permission(request)
        ):
            # A big file would outlast the web worker's timeout (a preview alone reads every row): a worker imports it
            # with the streaming importer (same rows accepted, same messages), and the job's page shows progress.
            job = services.import_job_create(kind=self.resource_classes[0].kind, file=upload, user_id=request.user.pk)
            megabytes = upload.size / 1_048_576
            messages.info(
                request,
                f"{upload.name} ({megabytes:.1f} MB) is imported in the background without a preview: "
                "this page shows its progress, then every row it refused with its line and reason.",
            )
            return redirect("admin:signals_app_importjob_change", job.pk)
        response = super().import_action(request, **kwargs)
        context = getattr(response, "context_data", None) or {}
        result = context.get("result")
        if result is not None and not result.has_errors() and result.has_validation_errors():
            invalid = len(result.invalid_rows)
            good = result.totals.get("new", 0) + result.totals.get("update", 0)
            if good:
                context["confirm_form"] = self.create_confirm_form(request, import_form=context["form"])
                messages.warning(
                    request,
                    f"{invalid} row(s) have errors (listed below) and will be skipped; "
                    f"confirm to import the other {good} new or changed row(s).",
                )
        return response

    def _do_file_export(self, file_format, request: HttpRequest, queryset: QuerySet, export_form=None) -> HttpResponse:
        limit = settings.KLEARLY_ADMIN_EXPORT_INLINE_MAX_ROWS
        if queryset.values("pk")[: limit + 1].count() <= limit:
            return super()._do_file_export(file_format, request, queryset, export_form=export_form)
        # A big list would outlast the web worker's timeout: a worker writes it to a file, linked from the job's page.
        resource = self.choose_export_resource_class(export_form, request)
        job = services.export_job_create(
            kind=resource.kind,
            queryset=queryset,
            columns=self.get_export_resource_fields_from_form(export_form),
            user_id=request.user.pk,
        )
        messages.info(
            request,
            f"More than {limit:,} rows: the export is written as CSV in the background; this page shows its "
            "progress and a download link when it is done.",
        )
        return redirect("admin:signals_app_exportjob_change", job.pk)


def held_changes_table(*, account: Account | None = None, contact: Contact | None = None) -> str:
    """The latest changes sources sent for a record but may not make (``TraitsHistory``), as a small table."""
    record = account or contact
    if record is None or not record.pk:
        return "—"
    rows = [
        (h.received_at.strftime("%Y-%m-%d %H:%M"), str(h.source), json.dumps(h.changes, ensure_ascii=False)[:500])
        for h in selectors.traits_history_for(account=account, contact=contact, limit=20)
    ]
    if not rows:
        return "None."
    kind = "account" if account else "contact"
    more = format_html(
        '<p><a href="{}?{}__id__exact={}">All of them</a></p>',
        reverse("admin:signals_app_traitshistory_changelist"),
        kind,
        record.pk,
    )
    return format_html("{}{}", accounts_admin.html_table(("Received", "Source", "Not applied"), rows), more)


class AccountImportExportAdmin(PartialImportMixin, accounts_admin.AccountAdmin):
    resource_classes = [AccountResource]
    readonly_fields = (*accounts_admin.AccountAdmin.readonly_fields, "latest_signals", "origin", "held_changes")
    fieldsets = (
        *accounts_admin.AccountAdmin.fieldsets,
        ("Latest signals", {"fields": ("latest_signals",)}),
        ("Changes held from ingestion sources", {"fields": ("origin", "held_changes"), "classes": ("collapse",)}),
    )

    @admin.display(description="Created by")
    def origin(self, obj: Account) -> str:
        return origin_text(obj.origin_source_id)

    @admin.display(description="Sent by sources, not applied (traits history)")
    def held_changes(self, obj: Account) -> str:
        return held_changes_table(account=obj)

    @admin.display(description="Latest signals")
    def latest_signals(self, obj: Account) -> str:
        if not obj.pk:
            return "—"
        rows = [
            (s.occurred_at.strftime("%Y-%m-%d %H:%M"), s.type.label, s.detail, str(s.topic or ""),
             s.get_direction_display(), s.get_source_display(), s.contact or "")
            for s in selectors.signal_list_for_account(account_id=obj.pk, limit=30)
        ]  # fmt: skip
        if not rows:
            return "None yet."
        more = format_html(
            '<p><a href="/admin/signals_app/signal/?account__id__exact={}">All signals of this account</a></p>', obj.pk
        )
        table = accounts_admin.html_table(("When", "Type", "Detail", "Topic", "Direction", "Source", "Contact"), rows)
        return format_html("{}{}", table, more)


class ContactImportExportAdmin(PersonAdminMixin, PartialImportMixin, accounts_admin.ContactAdmin):
    resource_classes = [ContactResource]
    actions = ["forget_people", "export_people"]
    readonly_fields = (*accounts_admin.ContactAdmin.readonly_fields, "origin", "held_changes")

    @admin.display(description="Created by")
    def origin(self, obj: Contact) -> str:
        return origin_text(obj.origin_source_id)

    @admin.display(description="Sent by sources, not applied (traits history)")
    def held_changes(self, obj: Contact) -> str:
        return held_changes_table(contact=obj)


def origin_text(source_id: int | None) -> str:
    """Which ingestion source created a record, in words."""
    if source_id is None:
        return "An import, the API or the admin"
    source = IngestionSource.objects.filter(pk=source_id).first()
    return f"Ingestion source “{source}”" if source else f"Ingestion source #{source_id} (deleted)"


class StageTransitionImportExportAdmin(PartialImportMixin, accounts_admin.StageTransitionAdmin):
    resource_classes = [StageTransitionResource]


for model, model_admin in (
    (Account, AccountImportExportAdmin),
    (Contact, ContactImportExportAdmin),
    (StageTransition, StageTransitionImportExportAdmin),
):
    admin.site.unregister(model)
    admin.site.register(model, model_admin)


@admin.register(SignalType)
class SignalTypeAdmin(admin.ModelAdmin):
    list_display = ("label", "key", "category", "default_direction", "default_source", "is_key_feature",
                    "is_activation_milestone")  # fmt: skip
    list_editable = ("is_key_feature", "is_activation_milestone")
    list_filter = ("category", "default_source", "is_key_feature", "is_activation_milestone")
    search_fields = ("key", "label")


@admin.register(SignalTopic)
class SignalTopicAdmin(admin.ModelAdmin):
    list_display = ("label", "key", "parent")
    list_select_related = ("parent",)
    list_filter = (("parent", admin.EmptyFieldListFilter),)
    search_fields = ("key", "label")
    autocomplete_fields = ("parent",)


@admin.register(Signal)
class SignalAdmin(BigTableAdminMixin, PartialImportMixin, admin.ModelAdmin):
    resource_classes = [SignalResource]
    list_display = ("occurred_at", "account", "contact", "type", "detail", "topic", "direction", "source")
    list_select_related = ("account", "contact", "type", "topic", "topic__parent")
    list_filter = ("direction", "source", "type__category", "type", "ingestion_source")
    search_fields = ("=idempotency_key", "=account__external_id", "=contact__email")
    autocomplete_fields = ("account", "contact", "type", "topic")
    readonly_fields = ("received_at", "ingestion_source", "idempotency_key")
    ordering = ("-occurred_at", "-id")

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False  # signals are immutable records; delete and re-send to correct one


@admin.register(EventMapping)
class EventMappingAdmin(admin.ModelAdmin):
    """Which Segment-style event becomes which signal: first matching pattern by priority wins."""

    list_display = ("pattern", "kind", "signal_type", "topic", "detail", "direction", "source", "ingestion_source",
                    "priority", "is_active")  # fmt: skip
    list_editable = ("priority", "is_active")
    list_filter = ("kind", "is_active", "ingestion_source")
    list_select_related = ("signal_type", "topic", "topic__parent", "ingestion_source")
    search_fields = ("pattern", "signal_type__label")
    autocomplete_fields = ("signal_type", "topic")


class WriteKeyInline(admin.TabularInline):
    model = WriteKey
    extra = 0
    fields = ("prefix", "label", "created_at", "last_used_at", "revoked_at")
    readonly_fields = ("prefix", "created_at", "last_used_at")
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False  # keys are made with the "Create a write key" action so the secret can be shown once


class IngestionSourceForm(forms.ModelForm):
    """A source's settings; the fields it owns are ticked from the list of what events can set."""

    owned_fields = forms.MultipleChoiceField(
        choices=OWNABLE_FIELDS,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Fields its events may also change on accounts and contacts it did not create. Leave all unticked "
        "for a public write key (in a browser or an app).",
    )

    class Meta:
        model = IngestionSource
        fields = ("name", "kind", "is_active", "update_policy", "owned_fields")


@admin.register(IngestionSource)
class IngestionSourceAdmin(admin.ModelAdmin):
    form = IngestionSourceForm
    list_display = ("name", "kind", "is_active", "update_policy", "created_at")
    list_filter = ("kind", "is_active", "update_policy")
    search_fields = ("name",)
    inlines = [WriteKeyInline]
    actions = ["create_write_key"]

    @admin.action(description="Create a write key (shown once)")
    def create_write_key(self, request: HttpRequest, queryset: QuerySet) -> TemplateResponse:
        """New keys are shown once in this response's body, never in a flash message (the messages cookie)."""
        made = []
        for source in queryset:
            key, raw = services.write_key_create(source=source, label=f"created by {request.user}")
            made.append((f"{source} ({key.prefix}…)", raw))
        return secret_shown_once_response(
            request,
            title="New write keys" if len(made) > 1 else "New write key",
            secrets=made,
            usage="Give it to the Segment or RudderStack library as its write key (sent as the HTTP Basic username), "
            "or send it as “Authorization: Bearer <key>” to POST /api/v1/signals/.",
            back_url=reverse("admin:signals_app_ingestionsource_changelist"),
        )


@admin.register(TraitsHistory)
class TraitsHistoryAdmin(BigTableAdminMixin, admin.ModelAdmin):
    """Changes sources sent for accounts and contacts they may not update: kept, not applied. Read-only; to apply
    one, edit the record, or let the source update it (its update settings) and have it send the change again."""

    list_display = ("received_at", "source", "account", "contact", "message_id", "changes_text")
    list_select_related = ("source", "account", "contact")
    list_filter = ("source",)
    search_fields = ("=account__external_id", "=contact__external_id", "=message_id")
    readonly_fields = ("source", "account", "contact", "message_id", "occurred_at", "received_at", "changes")
    ordering = ("-received_at", "-id")

    @admin.display(description="Not applied")
    def changes_text(self, obj: TraitsHistory) -> str:
        return json.dumps(obj.changes, ensure_ascii=False)[:300]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


class ImportJobForm(forms.ModelForm):
    class Meta:
        model = ImportJob
        fields = ("kind", "file")


@admin.register(ImportJob)
class ImportJobAdmin(admin.ModelAdmin):
    """Large CSV files, imported in the background by a worker with the streaming importer."""

    list_display = ("__str__", "original_name", "status", "progress", "rows_created", "rows_updated",
                    "rows_skipped", "rows_failed", "created_by", "created_at")  # fmt: skip
    list_select_related = ("created_by",)
    list_filter = ("status", "kind")
    form = ImportJobForm
    change_form_template = "admin/signals_app/job_change_form.html"
    readonly_fields = ("status", "progress", "original_name", "created_by", "created_at", "started_at",
                       "heartbeat_at", "finished_at", "rows_read", "rows_created", "rows_updated", "rows_skipped",
                       "rows_failed", "failure", "error_list")  # fmt: skip

    @admin.display(description="Progress")
    def progress(self, obj: ImportJob) -> str:
        return job_progress(obj.rows_read, obj.rows_total, obj.status)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("signals_app.import_csv")

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False if obj is not None else super().has_change_permission(request, obj)

    def get_fields(self, request: HttpRequest, obj=None):
        return ("kind", "file") if obj is None else ("kind", *self.readonly_fields)

    def get_readonly_fields(self, request: HttpRequest, obj=None):
        return () if obj is None else self.readonly_fields

    def save_model(self, request: HttpRequest, obj: ImportJob, form, change: bool) -> None:
        job = services.import_job_create(kind=obj.kind, file=form.cleaned_data["file"], user_id=request.user.pk)
        obj.pk = job.pk

    @admin.display(description="Bad rows")
    def error_list(self, obj: ImportJob) -> str:
        if not obj.errors:
            return "None."
        rows = [(e["line"], e["field"], e["message"]) for e in obj.errors[:500]]
        return accounts_admin.html_table(("Line", "Column", "Problem"), rows)

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None) -> HttpResponse:
        extra_context = {**(extra_context or {}), "kinds": ImportKind.choices, **_refresh_while_running(object_id)}
        return super().changeform_view(request, object_id, form_url, extra_context)


def job_progress(done: int, total: int | None, status: str) -> str:
    """ "12,000 of about 200,000 rows (6%)" while a job runs; the row count once it is over."""
    if status in (ImportStatus.DONE, ImportStatus.FAILED) or not total:
        return f"{done:,} rows"
    return f"{done:,} of about {total:,} rows ({min(99, done * 100 // total)}%)"


def _refresh_while_running(object_id: str | None) -> dict[str, int]:
    """The job pages reload themselves every few seconds while the job is queued or running."""
    return {"refresh_seconds": 3} if object_id else {}


@admin.register(ExportJob)
class ExportJobAdmin(admin.ModelAdmin):
    """Big admin exports, written to a file by a worker; made from an export page, downloaded from here."""

    list_display = ("__str__", "status", "progress", "download", "created_by", "created_at")
    list_select_related = ("created_by",)
    list_filter = ("status", "kind")
    change_form_template = "admin/signals_app/job_change_form.html"
    fields = readonly_fields = ("kind", "status", "progress", "download", "columns", "created_by", "created_at",
                                "started_at", "heartbeat_at", "finished_at", "failure")  # fmt: skip

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # made by the export page of signals, accounts, contacts or stage transitions

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    @admin.display(description="Progress")
    def progress(self, obj: ExportJob) -> str:
        return job_progress(obj.rows_done, obj.rows_total, obj.status)

    @admin.display(description="File")
    def download(self, obj: ExportJob) -> str:
        if obj.status != ImportStatus.DONE or not obj.file:
            return "—"
        url = reverse("admin:signals_app_exportjob_download", args=[obj.pk])
        return format_html('<a href="{}">Download {}</a>', url, (obj.file.name or "").rsplit("/", 1)[-1])

    def get_urls(self):
        download = self.admin_site.admin_view(self.download_view)
        return [path("<int:pk>/download/", download, name="signals_app_exportjob_download"), *super().get_urls()]

    def download_view(self, request: HttpRequest, pk: int) -> FileResponse:
        """The file, to whoever may export that kind of data (the file is never served from MEDIA_URL)."""
        job = get_object_or_404(ExportJob, pk=pk, status=ImportStatus.DONE)
        model = RESOURCES[job.kind]._meta.model
        codename = get_permission_codename(settings.IMPORT_EXPORT_EXPORT_PERMISSION_CODE, model._meta)
        may_export = request.user.has_perm(f"{model._meta.app_label}.{codename}")
        if not (may_export and self.has_view_permission(request, job)):
            raise PermissionDenied
        return FileResponse(job.file.open("rb"), as_attachment=True, filename=(job.file.name or "").rsplit("/", 1)[-1])

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None) -> HttpResponse:
        extra_context = {**(extra_context or {}), **_refresh_while_running(object_id)}
        return super().changeform_view(request, object_id, form_url, extra_context)
