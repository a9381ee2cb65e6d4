"""python manage.py export_person (--email X | --contact-id N | --external-id E | --anonymous-id A) [--output F]"""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError

from signals_app.privacy import person_export

from .forget_person import add_lookup_arguments, lookup_from


class Command(BaseCommand):
    help = (
        "Export everything Klearly holds about a person as JSON (GDPR access): contacts with traits, signals with "
        "properties, contact scores, tasks and other records that name them."
    )

    def add_arguments(self, parser):
        add_lookup_arguments(parser)
        parser.add_argument("--output", "-o", default="", help="Write to this file (default: standard output).")

    def handle(self, *args, **options):
        data = person_export(query=lookup_from(options))
        text = json.dumps(data, indent=2, ensure_ascii=False, sort_keys=False)
        if not options["output"]:
            self.stdout.write(text)
            return
        try:
            with open(options["output"], "w", encoding="utf-8") as fh:
                fh.write(text + "\n")
        except OSError as exc:
            raise CommandError(f"{options['output']}: {exc.strerror}") from exc
        self.stderr.write(
            f"Wrote {len(data['contacts'])} contact(s) and {len(data['signals'])} signal(s) to {options['output']}."
        )
