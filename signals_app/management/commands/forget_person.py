"""python manage.py forget_person (--email X | --contact-id N | --external-id E | --anonymous-id A) [...]"""

from __future__ import annotations

import getpass

from django.core.management.base import BaseCommand, CommandError

from signals_app.choices import ErasureVia
from signals_app.privacy import PersonLookupError, PersonQuery, person_forget, person_forget_plan


def add_lookup_arguments(parser) -> None:
    """The ways to name a person, shared with export_person (any mix: every match counts)."""
    parser.add_argument("--email", default="", help="Every contact with this email, and signals naming it.")
    parser.add_argument("--contact-id", type=int, default=None, help="A contact's id (as in the admin).")
    parser.add_argument("--external-id", default="", help="A contact's external id (the userId).")
    parser.add_argument("--anonymous-id", default="", help="An anonymousId whose signals have no contact.")


def lookup_from(options: dict) -> PersonQuery:
    try:
        return PersonQuery(email=options["email"], contact_id=options["contact_id"],
                           external_id=options["external_id"], anonymous_id=options["anonymous_id"])  # fmt: skip
    except PersonLookupError as exc:
        raise CommandError(str(exc)) from exc


class Command(BaseCommand):
    help = (
        "Forget a person (GDPR erasure): their contacts, signals (or only their personal properties, with "
        "--keep-anonymous-signals), anonymous ids, traits, and their email wherever else it is written. The accounts "
        "concerned are rescored. Leaves an audit entry with counts only."
    )

    def add_arguments(self, parser):
        add_lookup_arguments(parser)
        parser.add_argument(
            "--keep-anonymous-signals", action="store_true",
            help="Keep their signals for the accounts' counts, without person, anonymous id or personal properties.",
        )  # fmt: skip
        parser.add_argument("--reason", default="", help="Why (the ticket of the request); their email is removed.")
        parser.add_argument("--dry-run", action="store_true", help="Say what would be erased; change nothing.")

    def handle(self, *args, **options):
        query = lookup_from(options)
        keep = options["keep_anonymous_signals"]
        if options["dry_run"]:
            person, counts = person_forget_plan(query=query, keep_anonymous_signals=keep)
            if not person.found:
                self.stdout.write(f"Nothing found for {query.describe()}.")
            for kind, count in counts.items():
                self.stdout.write(f"{kind}: {count}")
            self.stdout.write("Dry run: nothing changed.")
            return
        try:
            operator = f"command ({getpass.getuser()})"
        except (KeyError, OSError):
            operator = "command"
        record = person_forget(query=query, via=ErasureVia.COMMAND, keep_anonymous_signals=keep,
                               operator_label=operator, reason=options["reason"])  # fmt: skip
        for kind, count in record.counts.items():
            self.stdout.write(f"{kind}: {count}")
        self.stdout.write(self.style.SUCCESS(f"Forgotten: erasure {record.erasure_id}."))
