"""Stage histories heal: the accounts file's stage at creation is told apart from dated history, and no movement is
recorded between two equal instants or to the same stage.

Before this, importing accounts.csv with a stage recorded entering it at the account's creation; importing the
stage history afterwards put a second row at that instant (or before it), and every converted lead got a spurious
movement there (a contraction), which the conversion model learnt as the answer. Existing rows cannot say where
they came from, so the accounts file's row is recognised as the row dated at the account's creation that a row
recorded after it predates or ties; the histories with such a row, with rows at one instant, or with a row to the
same stage are re-derived as ``accounts.services.stage_history_derive`` does (repeated here: a migration never
imports app code) and their accounts marked for rescoring.
"""

from django.db import migrations, models
from django.db.models import Count, Exists, F, OuterRef
from django.utils import timezone


def _movement(before, after) -> str:
    """``accounts.services.movement_between`` on (kind, rank) pairs."""
    if before is None:
        return "entry"
    (fk, fr), (tk, tr) = before, after
    if tk == "churn":
        return "churn" if fk != "churn" else "progression"
    if fk == "churn":
        return "reactivation"
    if fk == "free" and tk == "paying":
        return "conversion"
    if fk == "paying" and tk == "free":
        return "contraction"
    if fk == "paying" and tk == "paying" and tr != fr:
        return "expansion" if tr > fr else "contraction"
    return "progression"


def heal(apps, schema_editor) -> None:
    transition = apps.get_model("accounts", "StageTransition")
    account_model = apps.get_model("accounts", "Account")
    stage_model = apps.get_model("accounts", "JourneyStage")
    mark = apps.get_model("accounts", "RescoreMark")
    later_predates = transition.objects.filter(
        account_id=OuterRef("account_id"), pk__gt=OuterRef("pk"), changed_at__lte=OuterRef("changed_at")
    )
    snapshots = list(
        transition.objects.filter(changed_at=F("account__created_at"))
        .filter(Exists(later_predates))
        .values_list("pk", flat=True)
    )
    transition.objects.filter(pk__in=snapshots).update(from_accounts_file=True)
    ids = set(transition.objects.filter(pk__in=snapshots).values_list("account_id", flat=True))
    ids |= set(
        transition.objects.values("account_id", "changed_at")
        .annotate(n=Count("pk"))
        .filter(n__gt=1)
        .values_list("account_id", flat=True)
    )
    ids |= set(transition.objects.filter(from_stage_id=F("to_stage_id")).values_list("account_id", flat=True))
    if not ids:
        return
    kinds = {pk: (kind, rank) for pk, kind, rank in stage_model.objects.values_list("pk", "kind", "rank")}
    ids = sorted(ids)
    for start in range(0, len(ids), 2000):
        chunk = ids[start : start + 2000]
        rows: dict[int, list] = {}
        for row in transition.objects.filter(account_id__in=chunk).order_by("account_id", "changed_at", "id"):
            rows.setdefault(row.account_id, []).append(row)
        dropped, changed, latest = [], [], {}
        for account_id, history in rows.items():
            dated = [r.changed_at for r in history if not r.from_accounts_file]
            gone = {r.pk for r in history if r.from_accounts_file and dated and min(dated) < r.recorded_at}
            dropped += gone
            kept = [r for r in history if r.pk not in gone]
            previous = None
            for i, r in enumerate(kept):
                before = (r.from_stage_id, r.movement)
                r.from_stage_id = previous
                if (i + 1 < len(kept) and kept[i + 1].changed_at == r.changed_at) or previous == r.to_stage_id:
                    r.movement = "none"
                else:
                    r.movement = _movement(kinds[previous] if previous else None, kinds[r.to_stage_id])
                    previous = r.to_stage_id
                    latest[account_id] = r
                if before != (r.from_stage_id, r.movement):
                    changed.append(r)
        transition.objects.filter(pk__in=dropped).delete()
        transition.objects.bulk_update(changed, ["from_stage", "movement"], batch_size=1000)
        accounts = list(account_model.objects.filter(pk__in=list(latest)).only("id", "stage_id", "stage_changed_at"))
        for account in accounts:
            account.stage_id, account.stage_changed_at = latest[account.pk].to_stage_id, latest[account.pk].changed_at
        account_model.objects.bulk_update(accounts, ["stage", "stage_changed_at"], batch_size=1000)
        now = timezone.now()
        mark.objects.bulk_create([mark(account_id=a, marked_at=now) for a in chunk], batch_size=2000)


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0005_origin_source"),
    ]

    operations = [
        migrations.AddField(
            model_name="stagetransition",
            name="from_accounts_file",
            field=models.BooleanField(
                default=False,
                editable=False,
                help_text="Recorded from the stage column of accounts.csv when the account was created: where it was, "
                "dated at its creation, not when it got there. Replaced by the account's dated stage history once one "
                "exists.",
            ),
        ),
        migrations.AlterField(
            model_name="stagetransition",
            name="movement",
            field=models.CharField(
                choices=[
                    ("entry", "Entry"),
                    ("progression", "Progression"),
                    ("conversion", "Conversion"),
                    ("expansion", "Expansion"),
                    ("contraction", "Contraction"),
                    ("churn", "Churn"),
                    ("reactivation", "Reactivation"),
                    ("none", "No change"),
                ],
                editable=False,
                max_length=16,
            ),
        ),
        migrations.RunPython(heal, migrations.RunPython.noop),
    ]
