"""Admin for GDPR requests: "Forget" and "Export" actions on contacts, a page to find a person by email, contact or
anonymous id (people with no contact, only anonymous signals, are found there), and the read-only erasure log.

Forgetting always goes through a confirmation page that lists what will be erased, and never writes to the admin's
change log (whose entries name the object); the ``ErasureRecord`` is the audit. The work is ``signals_app.privacy``'s.
"""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone

from accounts.models import Contact

from .choices import ErasureVia
from .models import ErasureRecord
from .privacy import PersonLookupError, PersonQuery, person_export, person_forget, person_forget_plan

MAX_SELECTED = 50  # people per confirmation page: each is found with a scan of the signals table

COUNT_LABELS = {
    "contacts_deleted": "contacts",
    "signals_deleted": "signals deleted",
    "signals_anonymised": "signals kept without person or personal properties",
    "anonymous_ids": "anonymous ids",
    "signals_mentioning_scrubbed": "other people's signals naming them (address removed)",
    "account_traits_scrubbed": "accounts whose traits name them (address removed)",
    "contact_traits_scrubbed": "other contacts whose traits name them (address removed)",
    "admin_log_entries_scrubbed": "admin change-log entries",
    "import_jobs_scrubbed": "import jobs whose errors name them",
    "tasks_scrubbed": "tasks naming them",
    "task_comments_scrubbed": "task comments naming them",
    "playbook_runs_scrubbed": "playbook runs naming them",
    "webhook_deliveries_scrubbed": "webhook deliveries naming them",
    "saved_views_scrubbed": "saved views naming them",
    "accounts_rescored": "accounts to rescore",
}


def counts_in_words(counts: dict[str, int]) -> list[tuple[str, int]]:
    """(label, count) for the counts that are not zero, in a stable order."""
    order = list(COUNT_LABELS)
    ranked = sorted(counts.items(), key=lambda kv: order.index(kv[0]) if kv[0] in order else len(order))
    return [(COUNT_LABELS.get(k, k.replace("_", " ")), v) for k, v in ranked if v]


class ForgetOptionsForm(forms.Form):
    """How to forget: delete their signals, or keep them anonymous for the accounts' counts; and why."""

    keep_anonymous_signals = forms.TypedChoiceField(
        label="Their signals",
        choices=[
            ("", "Delete them"),
            ("1", "Keep them for their accounts' counts, without person or personal properties"),
        ],
        coerce=bool,
        empty_value=False,  # type: ignore[arg-type]  # Django takes any value; django-stubs wants str | None
        required=False,
        widget=forms.RadioSelect,
        initial="",
    )
    reason = forms.CharField(
        max_length=500, required=False, help_text="The request's reference (ticket); their email is removed from it."
    )


class PersonLookupForm(forms.Form):
    """Who: any of these (every record matching one is the person's)."""

    email = forms.CharField(max_length=254, required=False)
    contact_id = forms.IntegerField(min_value=1, max_value=2**63 - 1, required=False, label="Contact id")
    external_id = forms.CharField(max_length=128, required=False, label="Contact external id (userId)")
    anonymous_id = forms.CharField(max_length=128, required=False, label="Anonymous id (anonymousId)")

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        assert data is not None  # Form.clean returns cleaned_data
        if self.errors:
            return data
        try:
            data["query"] = PersonQuery(
                email=data.get("email") or "",
                contact_id=data.get("contact_id"),
                external_id=data.get("external_id") or "",
                anonymous_id=data.get("anonymous_id") or "",
            )
        except PersonLookupError as exc:
            raise forms.ValidationError(str(exc)) from None
        return data


def _export_response(documents: list[dict[str, Any]]) -> HttpResponse:
    body = documents[0] if len(documents) == 1 else documents
    response = HttpResponse(json.dumps(body, indent=2, ensure_ascii=False), content_type="application/json")
    name = f"person-export-{timezone.now():%Y%m%d-%H%M%S}.json"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


def _forgotten_message(records: list[ErasureRecord]) -> str:
    ids = ", ".join(str(r.erasure_id) for r in records)
    return f"Forgot {len(records)} person(s); erasure id(s): {ids}. The accounts concerned are being rescored."


class PersonAdminMixin(admin.ModelAdmin):
    """Mixed into the contacts admin: "Forget the selected people" and "Export the selected people's data"."""

    def has_forget_person_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("signals_app.forget_person")

    def has_export_person_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("signals_app.export_person")

    @admin.action(description="Forget the selected people (GDPR erasure)…", permissions=["forget_person"])
    def forget_people(self, request: HttpRequest, queryset: QuerySet[Contact]) -> HttpResponse | None:
        ids = list(queryset.order_by("pk").values_list("pk", flat=True)[: MAX_SELECTED + 1])
        if len(ids) > MAX_SELECTED:
            self.message_user(request, f"Select at most {MAX_SELECTED} people at a time.", messages.ERROR)
            return None
        options = ForgetOptionsForm(request.POST if "confirm" in request.POST else None)
        if "confirm" in request.POST and options.is_valid():
            records = []
            for pk in ids:
                if not Contact.objects.filter(pk=pk).exists():  # went with an earlier one (same email)
                    continue
                records.append(
                    person_forget(
                        query=PersonQuery(contact_id=pk),
                        via=ErasureVia.ADMIN,
                        operator=request.user,
                        keep_anonymous_signals=options.cleaned_data["keep_anonymous_signals"],
                        reason=options.cleaned_data["reason"],
                    )
                )
            self.message_user(request, _forgotten_message(records), messages.SUCCESS)
            return None
        people = []
        for pk in ids:
            person, counts = person_forget_plan(query=PersonQuery(contact_id=pk))
            people.append({"person": person, "counts": counts_in_words(counts), "contacts": _contact_names(person)})
        return TemplateResponse(
            request,
            "admin/signals_app/forget_confirm.html",
            {
                **self.admin_site.each_context(request),
                "title": "Forget these people?",
                "people": people,
                "form": options,
                "hidden": [("action", "forget_people"), *((ACTION_CHECKBOX_NAME, pk) for pk in ids)],
                "cancel_url": reverse("admin:accounts_contact_changelist"),
                "opts": self.model._meta,
            },
        )

    @admin.action(description="Export the selected people's data (JSON)", permissions=["export_person"])
    def export_people(self, request: HttpRequest, queryset: QuerySet[Contact]) -> HttpResponse | None:
        ids = list(queryset.order_by("pk").values_list("pk", flat=True)[: MAX_SELECTED + 1])
        if len(ids) > MAX_SELECTED:
            self.message_user(request, f"Select at most {MAX_SELECTED} people at a time.", messages.ERROR)
            return None
        return _export_response([person_export(query=PersonQuery(contact_id=pk)) for pk in ids])


def _contact_names(person: Any) -> list[str]:
    return [str(c) for c in Contact.objects.filter(pk__in=person.contact_ids).order_by("pk")]


@admin.register(ErasureRecord)
class ErasureRecordAdmin(admin.ModelAdmin):
    """The erasure log (read-only), and the page to forget or export a person found by email, contact or
    anonymous id."""

    list_display = ("erased_at", "erasure_id", "via", "operator_label", "signals_kept_anonymous", "summary")
    list_filter = ("via", "signals_kept_anonymous")
    search_fields = ("=erasure_id", "operator_label", "reason")
    readonly_fields = ("erasure_id", "erased_at", "operator", "operator_label", "via", "reason",
                       "signals_kept_anonymous", "counts")  # fmt: skip
    list_select_related = ("operator",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    @admin.display(description="Erased")
    def summary(self, obj: ErasureRecord) -> str:
        return ", ".join(f"{n} {label}" for label, n in counts_in_words(obj.counts)) or "nothing found"

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None) -> HttpResponse:
        can = request.user.has_perm("signals_app.forget_person") or request.user.has_perm("signals_app.export_person")
        return super().changelist_view(request, {**(extra_context or {}), "can_find_person": can})

    def get_urls(self) -> list:
        own = [path("person/", self.admin_site.admin_view(self.person_view), name="signals_app_person")]
        return own + super().get_urls()

    def person_view(self, request: HttpRequest) -> HttpResponse:
        """Find a person; export their data, or review and confirm forgetting them."""
        can_forget = request.user.has_perm("signals_app.forget_person")
        can_export = request.user.has_perm("signals_app.export_person")
        if not (can_forget or can_export):
            raise PermissionDenied
        lookup = PersonLookupForm(request.POST or None)
        context = {**self.admin_site.each_context(request), "title": "Forget or export a person", "form": lookup,
                   "opts": self.model._meta, "can_forget": can_forget, "can_export": can_export}  # fmt: skip
        if request.method != "POST" or not lookup.is_valid():
            return TemplateResponse(request, "admin/signals_app/person.html", context)
        query = lookup.cleaned_data["query"]
        if "export" in request.POST:
            if not can_export:
                raise PermissionDenied
            return _export_response([person_export(query=query)])
        if not can_forget:
            raise PermissionDenied
        options = ForgetOptionsForm(request.POST if "confirm" in request.POST else None)
        if "confirm" in request.POST and options.is_valid():
            record = person_forget(query=query, via=ErasureVia.ADMIN, operator=request.user,
                                   keep_anonymous_signals=options.cleaned_data["keep_anonymous_signals"],
                                   reason=options.cleaned_data["reason"])  # fmt: skip
            self.message_user(request, _forgotten_message([record]), messages.SUCCESS)
            return HttpResponseRedirect(reverse("admin:signals_app_erasurerecord_changelist"))
        person, counts = person_forget_plan(query=query)
        hidden = [(name, lookup.cleaned_data[name]) for name in ("email", "contact_id", "external_id", "anonymous_id")
                  if lookup.cleaned_data.get(name)]  # fmt: skip
        context.update(
            title="Forget this person?",
            people=[{"person": person, "counts": counts_in_words(counts), "contacts": _contact_names(person)}],
            form=options,
            hidden=[*hidden, ("forget", "1")],
            cancel_url=reverse("admin:signals_app_person"),
        )
        return TemplateResponse(request, "admin/signals_app/forget_confirm.html", context)
