"""The streaming CSV importer behind ``manage.py import_csv`` and background import jobs.

It reads a file row by row in constant memory, cleans each row with ``parsing`` (the same rules as the admin
import), resolves ids for a whole batch with one query per kind, and writes each batch set-based: on
PostgreSQL signals go through ``COPY`` into a temporary table and one ``INSERT ... ON CONFLICT DO NOTHING``;
elsewhere through ``bulk_create``. Bad rows are reported with their line number and never stop the good ones.
"""

from __future__ import annotations

import contextlib
import csv
import gc
import io
import itertools
import operator
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import IO, Any, TextIO, cast

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from accounts.models import Account, Contact, JourneyStage, StageTransition
from accounts.services import accounts_mark_for_rescore, stage_history_rebuild
from accounts.upsert import Upsert, accounts_upsert, contacts_upsert

from . import parsing
from .choices import Direction, IngestionKind, SignalSource
from .models import IngestionSource, SignalTopic, SignalType
from .storage import signals_insert

MAX_KEPT_ERRORS = 1000
CSV_SOURCE_NAME = "CSV import"
# The longest cell read, in characters (the csv module's own limit is 128 K; a longer cell is a row error).
MAX_CELL_CHARS = 1024 * 1024


@dataclass
class ImportReport:
    """What an import did: counts, and every bad row (the first ``MAX_KEPT_ERRORS`` kept in full)."""

    kind: str
    rows_read: int = 0
    created: int = 0
    updated: int = 0
    skipped: int = 0
    failed: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)
    fatal: str = ""

    def add_error(self, line: int, errors: dict[str, str]) -> None:
        self.failed += 1
        if len(self.errors) < MAX_KEPT_ERRORS:
            for column, message in errors.items():
                self.errors.append({"line": line, "field": column, "message": message})

    def summary(self) -> str:
        return (
            f"{self.rows_read} rows read: {self.created} created, {self.updated} updated, "
            f"{self.skipped} already present, {self.failed} rejected"
        )


def format_error(error: dict[str, Any]) -> str:
    return f"line {error['line']}, {error['field']}: {error['message']}"


def csv_source() -> IngestionSource:
    """The ingestion source that CSV-imported signals belong to (their message ids are unique within it)."""
    source, _ = IngestionSource.objects.get_or_create(name=CSV_SOURCE_NAME, defaults={"kind": IngestionKind.CSV})
    return source


class Lookups:
    """Resolves names in a file to database ids, a batch at a time, creating types and topics on the fly."""

    def __init__(self) -> None:
        self.accounts: dict[str, int] = {}
        self.contacts: dict[str, tuple[int, int | None]] = {}
        self.types: dict[str, tuple[int, str, str]] = {}
        self.topics: dict[str, int] = {}
        self._stages: dict[str, JourneyStage] | None = None
        self.owners: dict[str, int] = {}

    def load_accounts(self, external_ids: Iterable[str]) -> None:
        wanted = {e for e in external_ids if e and e not in self.accounts}
        for chunk in _chunks(sorted(wanted), 2000):
            self.accounts.update(Account.objects.filter(external_id__in=chunk).values_list("external_id", "pk"))

    def load_contacts(self, external_ids: Iterable[str]) -> None:
        wanted = {e for e in external_ids if e and e not in self.contacts}
        for chunk in _chunks(sorted(wanted), 2000):
            for ext, pk, account_id in Contact.objects.filter(external_id__in=chunk).values_list(
                "external_id", "pk", "account_id"
            ):
                self.contacts[cast(str, ext)] = (pk, account_id)  # external_id__in matches no NULL

    def ensure_types(self, wanted: dict[str, tuple[str, str | None]]) -> None:
        """Make sure every type key exists; ``wanted`` maps key -> (label from the file, source named)."""
        missing = [k for k in wanted if k not in self.types]
        if not missing:
            return
        known = SignalType.objects.filter(key__in=missing).values_list(
            "key", "pk", "default_direction", "default_source"
        )
        for key, pk, direction, source in known:
            self.types[key] = (pk, direction, source)
        new = [k for k in missing if k not in self.types]
        if new:
            SignalType.objects.bulk_create(
                [
                    SignalType(
                        key=k,
                        label=wanted[k][0] or k,
                        category=parsing.guess_category(k, wanted[k][1]),
                        default_direction=Direction.INBOUND,
                        default_source=wanted[k][1] or SignalSource.PRODUCT,
                    )
                    for k in new
                ],
                ignore_conflicts=True,
            )
            for key, pk, direction, source in SignalType.objects.filter(key__in=new).values_list(
                "key", "pk", "default_direction", "default_source"
            ):
                self.types[key] = (pk, direction, source)

    def ensure_topics(self, paths: Iterable[list[tuple[str, str]]]) -> None:
        """Make sure every topic path exists, product lines before the product types under them."""
        by_depth: dict[int, dict[str, tuple[str, str | None]]] = {0: {}, 1: {}}
        for path in paths:
            for depth, (key, label) in enumerate(path):
                if key not in self.topics:
                    by_depth[depth][key] = (label, path[0][0] if depth else None)
        for depth in (0, 1):
            wanted = by_depth[depth]
            if not wanted:
                continue
            self.topics.update(SignalTopic.objects.filter(key__in=list(wanted)).values_list("key", "pk"))
            new = [k for k in wanted if k not in self.topics]
            if new:
                SignalTopic.objects.bulk_create(
                    [
                        SignalTopic(key=k, label=wanted[k][0], parent_id=self.topics.get(wanted[k][1] or ""))
                        for k in new
                    ],
                    ignore_conflicts=True,
                )
                self.topics.update(SignalTopic.objects.filter(key__in=new).values_list("key", "pk"))

    def stage(self, name: str) -> JourneyStage | None:
        if self._stages is None:
            self._stages = {}
            for stage in JourneyStage.objects.all():
                self._stages[stage.key.lower()] = stage
                self._stages[stage.name.lower()] = stage
        return self._stages.get(name.strip().lower())

    def load_owners(self, emails: Iterable[str]) -> None:
        wanted = {e for e in emails if e and e not in self.owners}
        if wanted:
            user_model = get_user_model()
            for email, pk in user_model.objects.filter(email__in=wanted).values_list("email", "pk"):
                self.owners[email.lower()] = pk


def _chunks(items: list, size: int) -> Iterator[list]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


@dataclass(slots=True)
class Unreadable:
    """Lines the CSV reader could not make a row of, in place of the row's values: reported, never loaded.
    ``field`` is "row", or "file" when the rest of the file is lost (a quote never closed)."""

    field: str
    message: str


class HeaderInvalid(ValueError):
    """The header row cannot be read or used: the file is refused whole (the message names line 1)."""


def read_rows(stream: IO[str]) -> tuple[list[str], Iterator[tuple[int, list[str] | Unreadable]]]:
    """The header, and (line number, values) for every non-blank data row; line numbers count from the header as
    line 1, and a quoted cell over several lines moves them on as the file does.

    Read strictly: what the csv module cannot read (a cell over ``MAX_CELL_CHARS``, text after a closing quote, a
    quote never closed) and a quoted cell that swallowed what looks like the next row come as ``Unreadable`` at
    their line instead of values; the reader goes on with the next line. Raises HeaderInvalid for a bad header.
    """
    csv.field_size_limit(MAX_CELL_CHARS)  # process-wide; the same for every import
    reader = csv.reader(stream, strict=True)
    try:
        header = [h.strip().lstrip("\ufeff") for h in next(reader)]
    except StopIteration:
        return [], iter(())
    except csv.Error as exc:
        problem = _read_problem(str(exc), 1, reader.line_num)
        raise HeaderInvalid(f"line 1: the header row cannot be read: {problem.message}") from None
    width = len(header)

    def rows() -> Iterator[tuple[int, list[str] | Unreadable]]:
        line = reader.line_num
        while True:
            try:
                for values in reader:
                    start, line = line + 1, reader.line_num
                    if line > start and (swallowed := _swallowed_row(header, values, start)):
                        yield start, Unreadable("row", swallowed)
                    elif "".join(values).strip():  # a row of blank cells is skipped, like an empty line
                        yield start, values
                return
            except csv.Error as exc:  # the reader starts again on the line after the one it stopped at
                start, line = line + 1, reader.line_num
                yield start, _read_problem(str(exc), start, line)

    return header, rows() if width else iter(())


def _read_problem(error: str, start: int, end: int) -> Unreadable:
    """The csv module's complaint about lines ``start``..``end``, in words that say what to fix."""
    lines = f"line {start}" if end <= start else f"lines {start} to {end}"
    if "unexpected end of data" in error:  # the file ended inside a quoted cell: the rest of the file is lost
        return Unreadable(
            "file",
            f"a quote opened on line {start} is never closed, so {lines} (the end of the file) were read as one "
            'cell and not loaded: close the quote, or write a quote inside a cell as ""',
        )
    if "field larger than field limit" in error:
        return Unreadable(
            "row", f"a cell is over {MAX_CELL_CHARS // 1024} KB, the largest cell read; {lines} not loaded"
        )
    if "expected after" in error:
        return Unreadable(
            "row",
            f'a closing quote is followed by more text (write a quote in a quoted cell as ""); {lines} not loaded',
        )
    return Unreadable("row", f"cannot be read as CSV ({error}); {lines} not loaded")


def _swallowed_row(header: list[str], values: list[str], start: int) -> str:
    """Why a row whose quoted cell runs over several lines is suspect, or "": a line inside the cell that reads like
    a row of its own means a closing quote is missing and the next row(s) were swallowed. Multi-line cells of text
    (an address, a note) still load."""
    enough = max(len(header) - 1, 2)  # the commas of a row
    before = 0  # lines taken by the cells before this one
    for column, cell in enumerate(values):
        if "\n" not in cell:
            continue
        for offset, piece in enumerate(cell.split("\n")[1:], 1):
            if piece.count(",") >= enough:
                name = header[column] if column < len(header) else f"#{column + 1}"
                return (
                    f"the quoted cell in column {name} runs on to line {start + before + offset}, which reads like "
                    f"a row of its own: is a closing quote missing? Lines from {start} not loaded"
                )
        before += cell.count("\n")
    return ""


def header_problem(kind: str, header: list[str]) -> str:
    """Why a file of ``kind`` with this header is refused whole (missing or repeated columns), or ""."""
    missing = parsing.missing_columns(kind, header)
    if missing:
        return f"line 1: missing column(s) {', '.join(missing)}; expected {', '.join(parsing.COLUMNS[kind])}"
    repeated = sorted({name for name in header if name and header.count(name) > 1})
    if repeated:
        return f"line 1: column(s) {', '.join(repeated)} appear more than once; keep one of each"
    return ""


@contextlib.contextmanager
def _collector_paused(pause: bool) -> Iterator[None]:
    """Pause Python's cyclic garbage collector while a batch loop runs (reference counting still frees each row).

    Every batch keeps thousands of fresh container objects alive, which keeps triggering full collections that walk
    every object in the process; on a million signals that was a tenth of the import and a quarter of a re-import.
    """
    if not pause or not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


class BaseImporter:
    kind = ""
    pause_gc = False  # an importer whose rows make no reference cycles may set it (see ``_collector_paused``)

    def __init__(self, *, batch_size: int | None = None, user_id: int | None = None) -> None:
        self.batch_size = batch_size or settings.KLEARLY_IMPORT_BATCH_SIZE
        self.lookups = Lookups()
        self.user_id = user_id

    def run(self, stream: IO[str], *, progress: Callable[[int], object] | None = None) -> ImportReport:
        """Import every row of ``stream``; bad rows are reported, good ones kept."""
        report = ImportReport(kind=self.kind)
        try:
            header, rows = read_rows(stream)
        except HeaderInvalid as exc:
            report.fatal = str(exc)
            return report
        if not header:
            report.fatal = "line 1: the file is empty (a header row is required)"
            return report
        report.fatal = header_problem(self.kind, header)
        if report.fatal:
            return report
        width = len(header)
        parse_values = self.values_parser(header)
        with _collector_paused(self.pause_gc):
            while batch := list(itertools.islice(rows, self.batch_size)):
                report.rows_read += len(batch)
                good = []
                for line, values in batch:
                    if isinstance(values, Unreadable):
                        report.add_error(line, {values.field: values.message})
                        continue
                    if len(values) > width:
                        report.add_error(line, {"row": f"has {len(values)} values but the header has {width}"})
                        continue
                    if "\x00" in "".join(values):
                        try:
                            parsing.reject_nul(dict(zip(header, values, strict=False)))
                        except parsing.RowInvalid as exc:
                            report.add_error(line, exc.errors)
                        continue
                    try:
                        good.append((line, parse_values(values)))
                    except parsing.RowInvalid as exc:
                        report.add_error(line, exc.errors)
                with transaction.atomic():
                    self.write(good, report)
                if progress:
                    progress(len(batch))
        report.errors.sort(key=lambda e: e["line"])  # resolution errors are found after parse errors
        return report

    def values_parser(self, header: list[str]) -> Callable[[list[str]], Any]:
        """What ``run`` calls on each row's values: ``parse`` on the row as a dict (a short row lacks the rest)."""
        return lambda values: self.parse(dict(zip(header, values, strict=False)))

    def parse(self, row: dict[str, str]) -> Any:
        raise NotImplementedError

    def write(self, rows: list[tuple[int, Any]], report: ImportReport) -> None:
        raise NotImplementedError


class SignalImporter(BaseImporter):
    """signals.csv: message_id makes a row unique in the CSV source; without one, the row's content does."""

    kind = "signals"
    pause_gc = True  # rows are strings, numbers, datetimes and tuples of them: no cycles

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.source = csv_source()
        self.touched_accounts: set[int] = set()

    def parse(self, row: dict[str, str]) -> parsing.SignalRow:
        return parsing.parse_signal(row)

    def values_parser(self, header: list[str]) -> Callable[[list[str]], parsing.SignalRow]:
        """``parse`` without building a dict per row: the signal columns are picked from each row by position."""
        position = {name: i for i, name in enumerate(header)}  # a repeated name: the last wins, as in a dict
        width = len(header)
        positions = [position.get(c, width) for c in parsing.SIGNAL_COLUMNS]  # a column the file lacks: a blank
        pick = operator.itemgetter(*positions)
        blank = [""] if width in positions else []
        parse_values = parsing.parse_signal_values

        def parse(values: list[str]) -> parsing.SignalRow:
            if len(values) < width:  # rare; as a dict, since a short row can change which repeated column wins
                return parsing.parse_signal(dict(zip(header, values, strict=False)))
            return parse_values(pick(values + blank if blank else values))

        return parse

    def resolve(self, rows: list[tuple[int, parsing.SignalRow]], report: ImportReport) -> list[tuple]:
        """The database rows for parsed signals, names resolved a batch at a time; unknown names are reported."""
        lk = self.lookups
        lk.load_accounts({r.account_external_id for _, r in rows})
        lk.load_contacts({r.contact_external_id for _, r in rows})
        lk.ensure_types({r.type_key: (r.type_label, r.source) for _, r in rows})
        lk.ensure_topics(r.topic for _, r in rows if r.topic)
        accounts, contacts, types, topics = lk.accounts, lk.contacts, lk.types, lk.topics
        resolved: list[tuple] = []
        append = resolved.append
        for line, r in rows:
            account_id = accounts.get(r.account_external_id)
            if account_id is None:
                report.add_error(line, {"account_external_id": f"no account has external id {r.account_external_id!r}"})
                continue
            contact_id = None
            if r.contact_external_id:
                contact = contacts.get(r.contact_external_id)
                if contact is None:
                    report.add_error(
                        line, {"contact_external_id": f"no contact has external id {r.contact_external_id!r}"}
                    )
                    continue
                if contact[1] is not None and contact[1] != account_id:
                    report.add_error(
                        line, {"contact_external_id": f"{r.contact_external_id!r} belongs to another account"}
                    )
                    continue
                contact_id = contact[0]
            type_id, default_direction, default_source = types[r.type_key]
            append((
                account_id, contact_id, type_id, r.detail, topics[r.topic[-1][0]] if r.topic else None,
                r.direction or default_direction, r.source or default_source, r.occurred_at, r.properties_json,
                r.idempotency_key,
            ))  # fmt: skip
        self.touched_accounts.update(row[0] for row in resolved)
        return resolved

    def write(self, rows: list[tuple[int, parsing.SignalRow]], report: ImportReport) -> None:
        resolved = self.resolve(rows, report)
        if not resolved:
            return
        # received_at, the source and the blank anonymous id are the same for the whole batch: sent once
        same = {"received_at": timezone.now(), "ingestion_source_id": self.source.pk, "anonymous_id": ""}
        created = signals_insert(resolved, same=same)
        report.created += created
        report.skipped += len(resolved) - created
        if created:  # new signals change what the accounts' scores depend on
            accounts_mark_for_rescore(account_ids={r[0] for r in resolved})


class AccountImporter(BaseImporter):
    """accounts.csv: upsert by external_id; unknown columns go to traits; a new stage records a movement."""

    kind = "accounts"

    def parse(self, row: dict[str, str]) -> tuple:
        return parsing.parse_account(row)

    def write(self, rows: list[tuple[int, tuple]], report: ImportReport) -> None:
        lk = self.lookups
        lk.load_owners(owner for _, (_, _, _, owner) in rows)
        by_id: dict[str, tuple[Upsert, JourneyStage | None]] = {}
        for line, (fields, traits, stage_name, owner_email) in rows:
            stage = lk.stage(stage_name) if stage_name else None
            if stage_name and stage is None:
                report.add_error(line, {"stage": f"no journey stage is called {stage_name!r}"})
                continue
            owner_id = lk.owners.get(owner_email) if owner_email else None
            if owner_email and owner_id is None:
                report.add_error(line, {"owner_email": f"no Klearly user has the email {owner_email!r}"})
                continue
            values = {**fields, "owner_id": owner_id} if owner_id else fields
            by_id[fields["external_id"]] = (Upsert(fields["external_id"], values, traits), stage)  # last row wins
        if not by_id:
            return
        result = accounts_upsert(rows=[row for row, _ in by_id.values()])
        # (account, stage, when, from the file's stage column at creation): a new account's stage is where it is,
        # dated at its creation until a dated history says when it got there; a changed stage is a move seen now
        moves: list[tuple[int, JourneyStage, Any, bool]] = []
        updated = set(result.updated)
        for ext, (_, stage) in by_id.items():
            account = result.records[ext]
            if ext in result.created:
                if stage:
                    moves.append((result.ids[ext], stage, account.created_at, True))
            elif stage and account.stage_id != stage.pk:
                moves.append((result.ids[ext], stage, timezone.now(), False))
                updated.add(ext)
        report.created += len(result.created)
        report.updated += len(updated)
        report.skipped += len(by_id) - len(result.created) - len(updated)
        if moves:
            StageTransition.objects.bulk_create(
                [
                    StageTransition(account_id=account_id, to_stage=stage, changed_at=when, movement="entry",
                                    from_accounts_file=snapshot)
                    for account_id, stage, when, snapshot in moves
                ],
                ignore_conflicts=True,
            )  # fmt: skip
            stage_history_rebuild(account_ids=[account_id for account_id, *_ in moves])


class ContactImporter(BaseImporter):
    """contacts.csv: upsert by external_id; unknown columns go to traits."""

    kind = "contacts"

    def parse(self, row: dict[str, str]) -> tuple:
        return parsing.parse_contact(row)

    def write(self, rows: list[tuple[int, tuple]], report: ImportReport) -> None:
        lk = self.lookups
        lk.load_accounts(account for _, (_, _, account) in rows)
        by_id: dict[str, Upsert] = {}
        for line, (fields, traits, account_ext) in rows:
            account_id = lk.accounts.get(account_ext) if account_ext else None
            if account_ext and account_id is None:
                report.add_error(line, {"account_external_id": f"no account has external id {account_ext!r}"})
                continue
            values = {**fields, "account_id": account_id} if account_id else fields  # no account named: kept
            by_id[fields["external_id"]] = Upsert(fields["external_id"], values, traits)  # last row wins
        if not by_id:
            return
        result = contacts_upsert(rows=list(by_id.values()))
        report.created += len(result.created)
        report.updated += len(result.updated)
        report.skipped += len(by_id) - len(result.created) - len(result.updated)


class StageTransitionImporter(BaseImporter):
    """stage_transitions.csv: each (account, stage, time) once; movements re-derived for the accounts touched."""

    kind = "stage_transitions"

    def parse(self, row: dict[str, str]) -> tuple:
        return parsing.parse_stage_transition(row)

    def write(self, rows: list[tuple[int, tuple]], report: ImportReport) -> None:
        lk = self.lookups
        lk.load_accounts(account for _, (account, _, _) in rows)
        wanted: dict[tuple[int, int, Any], None] = {}
        valid = 0
        for line, (account_ext, stage_name, changed_at) in rows:
            account_id = lk.accounts.get(account_ext)
            stage = lk.stage(stage_name)
            errors = {}
            if account_id is None:
                errors["account_external_id"] = f"no account has external id {account_ext!r}"
            if stage is None:
                errors["stage"] = f"no journey stage is called {stage_name!r}"
            if errors or account_id is None or stage is None:  # errors name what is missing
                report.add_error(line, errors)
                continue
            wanted[(account_id, stage.pk, changed_at)] = None
            valid += 1
        if not wanted:
            return
        account_ids = {a for a, _, _ in wanted}
        existing = {
            (a, s, t): (pk, snapshot)
            for pk, a, s, t, snapshot in StageTransition.objects.filter(account_id__in=account_ids).values_list(
                "pk", "account_id", "to_stage_id", "changed_at", "from_accounts_file"
            )
        }
        fresh = [key for key in wanted if key not in existing]
        StageTransition.objects.bulk_create(
            [StageTransition(account_id=a, to_stage_id=s, changed_at=t, movement="entry") for a, s, t in fresh],
            ignore_conflicts=True,
            batch_size=1000,
        )
        # The accounts file's stage at creation that the history confirms (same stage, same instant) is history now:
        # it stays when the rest of the history replaces the file's stage.
        confirmed = {key: existing[key][0] for key in wanted if key in existing and existing[key][1]}
        StageTransition.objects.filter(pk__in=list(confirmed.values())).update(from_accounts_file=False)
        report.created += len(fresh)
        report.skipped += valid - len(fresh)
        if fresh or confirmed:
            stage_history_rebuild(account_ids={a for a, _, _ in [*fresh, *confirmed]})


IMPORTERS: dict[str, type[BaseImporter]] = {
    "accounts": AccountImporter,
    "contacts": ContactImporter,
    "signals": SignalImporter,
    "stage_transitions": StageTransitionImporter,
}


def import_csv_stream(
    *, kind: str, stream: IO[str], batch_size: int | None = None, progress: Callable[[int], object] | None = None
) -> ImportReport:
    """Import a CSV stream of ``kind`` (accounts, contacts, signals, stage_transitions)."""
    if kind not in IMPORTERS:
        raise ValueError(f"unknown import kind {kind!r}; use one of {', '.join(IMPORTERS)}")
    return IMPORTERS[kind](batch_size=batch_size).run(stream, progress=progress)


def open_text(path: str) -> TextIO:
    """Open a CSV file as UTF-8 text (a BOM is dropped), universal newlines handled by the csv module."""
    return io.open(path, encoding="utf-8-sig", newline="")  # noqa: UP020
