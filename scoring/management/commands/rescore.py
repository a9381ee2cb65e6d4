"""manage.py rescore [--all | --account EXT ...]: recompute scores now, with a progress bar."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from accounts.models import Account
from accounts.selectors import marked_account_count
from scoring import services


class Command(BaseCommand):
    help = "Rescore marked accounts (default), every account (--all) or some accounts (--account EXT, repeatable)."

    def add_arguments(self, parser) -> None:
        group = parser.add_mutually_exclusive_group()
        group.add_argument("--all", action="store_true", help="Rescore every account.")
        group.add_argument("--account", action="append", default=[], metavar="EXTERNAL_ID", help="An account's id.")
        parser.add_argument("--chunk-size", type=int, default=services.CHUNK_SIZE)

    def handle(self, *args: Any, **options: Any) -> None:
        created = services.scoring_defaults_ensure()
        if created:
            self.stdout.write(f"Created {created} default engagement rules for the signal types found.")
        chunk_size = options["chunk_size"]
        quiet = options["verbosity"] == 0
        if options["account"]:
            wanted = set(options["account"])
            found = dict(Account.objects.filter(external_id__in=wanted).values_list("external_id", "pk"))
            if missing := sorted(wanted - set(found)):
                raise CommandError(f"No account has external id {', '.join(map(repr, missing))}.")
            total = len(found)
        elif options["all"]:
            total = Account.objects.count()
        else:
            total = marked_account_count()
        with tqdm(total=total, unit="account", disable=quiet, file=self.stderr) as bar:
            if options["account"]:
                stats = services.accounts_rescore(
                    account_ids=found.values(), chunk_size=chunk_size, progress=bar.update
                )
            elif options["all"]:
                stats = services.accounts_rescore_all(chunk_size=chunk_size, progress=bar.update)
            else:
                stats = services.accounts_rescore_marked(chunk_size=chunk_size, progress=bar.update)
        self.stdout.write(
            f"Rescored {stats.accounts} accounts in {stats.chunks} chunks with configuration v{stats.config_version}; "
            f"{stats.newly_qualified} newly qualified, {stats.marks_cleared} rescore marks cleared."
        )
