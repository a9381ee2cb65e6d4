"""django-import-export resources for the admin's CSV import and export.

Import goes through the same code as ``manage.py import_csv`` (``importing``), one row at a time inside
django-import-export's per-row savepoint, so the admin's dry-run preview, its confirm step and the command
accept, reject and de-duplicate exactly the same rows with the same messages. The file is read by the importer's
own reader too (``CheckedCSV``): the same limits, quote checks and line numbers. Export neutralises
spreadsheet formulas in every text cell.
"""

from __future__ import annotations

import io
import re
from typing import Any

import tablib
from django.core.exceptions import ValidationError
from django.utils.html import escape
from import_export import fields, resources
from import_export.formats import base_formats
from import_export.results import RowResult

from accounts.models import Account, Contact, StageTransition

from . import parsing
from .importing import IMPORTERS, BaseImporter, ImportReport, Unreadable, header_problem, read_rows
from .models import Signal

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
PLAIN_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")


def neutralise_formula(value: Any) -> Any:
    """Prefix text a spreadsheet would run as a formula with a quote (OWASP CSV injection advice).

    Plain signed numbers ("-12.5") stay numbers. The library's own escaping only strips some triggers.
    """
    if isinstance(value, str) and value.startswith(FORMULA_TRIGGERS) and not PLAIN_NUMBER.match(value):
        return "'" + value
    return value


# Columns CheckedCSV adds to the rows it reads: the row's line in the file, and why it could not be read.
LINE, UNREADABLE = "__line__", "__unreadable__"


class CheckedCSV(base_formats.CSV):
    """CSV read by ``importing.read_rows`` (as ``import_csv`` reads it), not by tablib: each row carries its line
    (a quoted cell over several lines moves the next rows' lines on) and the reason it could not be read, if so.
    A cell missing at the end of a short row is None, and left alone as the importer leaves it."""

    def create_dataset(self, in_stream: str | bytes, **kwargs: Any) -> tablib.Dataset:
        text = in_stream.decode(self.encoding or "utf-8-sig") if isinstance(in_stream, bytes) else in_stream
        header, rows = read_rows(io.StringIO(text, newline=""))  # HeaderInvalid: the admin shows it on the form
        dataset = tablib.Dataset(headers=[*header, LINE, UNREADABLE])
        width = len(header)
        for line, values in rows:
            blank: list[Any] = [None] * width
            if isinstance(values, Unreadable):
                dataset.append([*blank, line, values.message])
            elif len(values) > width:
                dataset.append([*blank, line, f"has {len(values)} values but the header has {width}"])
            else:
                dataset.append([*values, *[None] * (width - len(values)), line, ""])
        return dataset


class KlearlyResource(resources.ModelResource):
    """Exports safely; imports through the streaming importer of ``kind`` with line-numbered errors."""

    kind = ""

    def export_field(self, field, instance, **kwargs):
        return neutralise_formula(super().export_field(field, instance, **kwargs))

    def get_diff_headers(self) -> list[str]:
        return list(parsing.COLUMNS[self.kind])

    def before_import(self, dataset, **kwargs) -> None:
        self.importer: BaseImporter | None = None
        self.report = ImportReport(kind=self.kind)
        problem = header_problem(self.kind, [h for h in dataset.headers or [] if h not in (LINE, UNREADABLE)])
        if problem:
            raise ValueError(problem)
        self.importer = IMPORTERS[self.kind]()

    def import_row(self, row, instance_loader, **kwargs) -> RowResult:
        line = row.get(LINE) or kwargs["row_number"] + 1  # without CheckedCSV: the header is line 1, a row a line
        row_result = self.get_row_result_class()()
        if self.importer is None:  # the header was refused: the file is reported as a whole, rows are not tried
            row_result.import_type = RowResult.IMPORT_TYPE_SKIP
            return row_result
        values = {k: str(v) for k, v in row.items() if k and v is not None and k not in (LINE, UNREADABLE)}
        row_result.diff = [escape(values.get(column, "")) for column in self.get_diff_headers()]
        if row.get(UNREADABLE):
            return self._invalid(row_result, line, {"row": row[UNREADABLE]})
        before = (self.report.created, self.report.updated, self.report.skipped, len(self.report.errors))
        try:
            parsing.reject_nul(values)
            parsed = self.importer.parse(values)
        except parsing.RowInvalid as exc:
            return self._invalid(row_result, line, exc.errors)
        self.importer.write([(line, parsed)], self.report)
        new_errors = self.report.errors[before[3] :]
        if new_errors:
            return self._invalid(row_result, line, {e["field"]: e["message"] for e in new_errors})
        if self.report.created > before[0]:
            row_result.import_type = RowResult.IMPORT_TYPE_NEW
        elif self.report.updated > before[1]:
            row_result.import_type = RowResult.IMPORT_TYPE_UPDATE
        else:
            row_result.import_type = RowResult.IMPORT_TYPE_SKIP
        return row_result

    @staticmethod
    def _invalid(row_result: RowResult, line: int, errors: dict[str, str]) -> RowResult:
        row_result.import_type = RowResult.IMPORT_TYPE_INVALID
        row_result.validation_error = ValidationError({k: [f"line {line}: {v}"] for k, v in errors.items()})
        return row_result


class AccountResource(KlearlyResource):
    kind = "accounts"
    stage = fields.Field(attribute="stage__name", column_name="stage")
    owner_email = fields.Field(attribute="owner__email", column_name="owner_email")

    class Meta:
        model = Account
        fields = parsing.ACCOUNT_COLUMNS
        export_order = parsing.ACCOUNT_COLUMNS
        name = "Accounts (accounts.csv)"


class ContactResource(KlearlyResource):
    kind = "contacts"
    account_external_id = fields.Field(attribute="account__external_id", column_name="account_external_id")

    class Meta:
        model = Contact
        fields = parsing.CONTACT_COLUMNS
        export_order = parsing.CONTACT_COLUMNS
        name = "Contacts (contacts.csv)"


class StageTransitionResource(KlearlyResource):
    kind = "stage_transitions"
    account_external_id = fields.Field(attribute="account__external_id", column_name="account_external_id")
    stage = fields.Field(attribute="to_stage__key", column_name="stage")
    from_stage = fields.Field(attribute="from_stage__key", column_name="from_stage")
    movement = fields.Field(attribute="movement", column_name="movement")

    class Meta:
        model = StageTransition
        fields = ("account_external_id", "stage", "changed_at", "from_stage", "movement")
        export_order = fields
        name = "Stage transitions (stage_transitions.csv)"


class SignalResource(KlearlyResource):
    kind = "signals"
    message_id = fields.Field(attribute="idempotency_key", column_name="message_id")
    account_external_id = fields.Field(attribute="account__external_id", column_name="account_external_id")
    contact_external_id = fields.Field(attribute="contact__external_id", column_name="contact_external_id")
    type = fields.Field(attribute="type__key", column_name="type")
    topic = fields.Field(column_name="topic")
    properties = fields.Field(column_name="properties")

    class Meta:
        model = Signal
        fields = parsing.SIGNAL_COLUMNS
        export_order = parsing.SIGNAL_COLUMNS
        name = "Signals (signals.csv)"

    def dehydrate_topic(self, signal: Signal) -> str:
        if signal.topic is None:
            return ""
        if signal.topic.parent is not None:  # no query when there is none
            return f"{signal.topic.parent.label} > {signal.topic.label}"
        return signal.topic.label

    def dehydrate_properties(self, signal: Signal) -> str:
        import json

        return json.dumps(signal.properties, ensure_ascii=False, separators=(",", ":")) if signal.properties else ""


# The resource of each import kind: the admin's background exports write with it.
RESOURCES: dict[str, type[KlearlyResource]] = {
    r.kind: r for r in (AccountResource, ContactResource, SignalResource, StageTransitionResource)
}
