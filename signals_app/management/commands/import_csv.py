"""python manage.py import_csv {accounts,contacts,signals,stage_transitions} FILE"""

from __future__ import annotations

import os

from django.core.files import File
from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from signals_app.importing import IMPORTERS, format_error, import_csv_stream, open_text
from signals_app.services import import_job_create


class Command(BaseCommand):
    help = "Import a CSV file (formats in DESIGN.md), streaming in constant memory. Bad rows are reported by line."

    def add_arguments(self, parser):
        parser.add_argument("kind", choices=sorted(IMPORTERS))
        parser.add_argument("file")
        parser.add_argument("--batch-size", type=int, default=None, help="Rows per database batch (default 5000).")
        parser.add_argument("--background", action="store_true", help="Queue the import on a Celery worker.")
        parser.add_argument("--max-errors-shown", type=int, default=50)
        parser.add_argument("--no-progress", action="store_true")

    def handle(self, *args, kind: str, file: str, batch_size: int | None, background: bool, **options):
        if not os.path.isfile(file):
            raise CommandError(f"{file}: no such file")
        if background:
            with open(file, "rb") as fh:
                job = import_job_create(kind=kind, file=File(fh, name=os.path.basename(file)))
            self.stdout.write(f"Queued import job #{job.pk}; see it in the admin under Import jobs.")
            return
        size = os.path.getsize(file)
        with (
            open_text(file) as stream,
            tqdm(total=size, unit="B", unit_scale=True, disable=options["no_progress"], desc=kind) as bar,
        ):
            position = [0]

            def progress(_rows: int) -> None:
                now = stream.buffer.tell()
                bar.update(now - position[0])
                position[0] = now

            try:
                report = import_csv_stream(kind=kind, stream=stream, batch_size=batch_size, progress=progress)
            except UnicodeDecodeError as exc:
                raise CommandError(f"{file}: not UTF-8 text (byte {exc.start}); save it as UTF-8") from exc
        if report.fatal:
            raise CommandError(f"{file}: {report.fatal}")
        shown = options["max_errors_shown"]
        for error in report.errors[:shown]:
            self.stderr.write(f"{file}: {format_error(error)}")
        if report.failed and len(report.errors) > shown:
            self.stderr.write(f"... and more: {report.failed} rows rejected in all")
        self.stdout.write(self.style.SUCCESS(report.summary()))
