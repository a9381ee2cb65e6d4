"""One signal type per name however it is written: keys are normalised ("pricing_page_view", "Pricing-Page-View" and
"pricing-page-view" are all "pricing-page-view"), and types whose keys normalise the same are merged into one.

The type kept is the one that already has the normalised key (else the oldest); the others' signals, event mappings,
engagement rule (when the kept type has none) and segment boosts (unless the kept type has the same boost) move onto
it, and they are deleted. Trained models' feature spaces get the new keys. It lives in ``scoring`` because it moves
scoring's rules too (``scoring`` depends on ``signals_app``, never the reverse).

Like every data migration here it uses the historical models and its own copy of the key function, never app code.
"""

import re
import unicodedata

from django.db import migrations
from django.db.models import F

_SEPARATORS = re.compile(r"[-_]+")


def normalised_key(text):
    """A copy of ``signals_app.parsing.signal_type_key`` as it was written (Django's slugify, then "_" as "-")."""
    value = unicodedata.normalize("NFKD", str(text)).encode("ascii", "ignore").decode("ascii")
    value = re.sub(r"[^\w\s-]", "", value.lower())
    value = re.sub(r"[-\s]+", "-", value).strip("-_")
    return _SEPARATORS.sub("-", value).strip("-")[:100].rstrip("-")


def merge_signal_types(apps, schema_editor):
    """Normalise every type key, merging the types that become one. Returns how many types were merged away."""
    SignalType = apps.get_model("signals_app", "SignalType")
    Signal = apps.get_model("signals_app", "Signal")
    EventMapping = apps.get_model("signals_app", "EventMapping")
    EngagementRule = apps.get_model("scoring", "EngagementRule")
    SegmentBoost = apps.get_model("scoring", "SegmentBoost")
    PredictiveModel = apps.get_model("scoring", "PredictiveModel")
    ConfigVersion = apps.get_model("scoring", "ConfigVersion")

    groups = {}
    for pk, key, label in SignalType.objects.order_by("pk").values_list("pk", "key", "label"):
        groups.setdefault(normalised_key(key) or key, []).append((pk, key, label))
    merged = renamed = 0
    for target, members in groups.items():
        if len(members) == 1 and members[0][1] == target:
            continue
        keeper = next((m for m in members if m[1] == target), members[0])
        others = [pk for pk, _, _ in members if pk != keeper[0]]
        if others:
            Signal.objects.filter(type_id__in=others).update(type_id=keeper[0])
            EventMapping.objects.filter(signal_type_id__in=others).update(signal_type_id=keeper[0])
            if not EngagementRule.objects.filter(signal_type_id=keeper[0]).exists():
                rule = EngagementRule.objects.filter(signal_type_id__in=others).order_by("pk").first()
                if rule is not None:
                    EngagementRule.objects.filter(pk=rule.pk).update(signal_type_id=keeper[0])
            EngagementRule.objects.filter(signal_type_id__in=others).delete()
            boosted = set(SegmentBoost.objects.filter(signal_type_id=keeper[0]).values_list("segment_id", "window_days"))
            for boost in SegmentBoost.objects.filter(signal_type_id__in=others).order_by("pk"):
                if (boost.segment_id, boost.window_days) in boosted:
                    boost.delete()
                else:
                    SegmentBoost.objects.filter(pk=boost.pk).update(signal_type_id=keeper[0])
                    boosted.add((boost.segment_id, boost.window_days))
            SignalType.objects.filter(pk__in=others).delete()
            merged += len(others)
        changes = {"key": target}
        if keeper[2] == keeper[1] and keeper[1] != target:  # a label that was the raw name: say it in words
            changes["label"] = target.replace("-", " ").capitalize()
        SignalType.objects.filter(pk=keeper[0]).update(**changes)
        renamed += 1
    if not renamed:
        return 0
    for model in PredictiveModel.objects.all():
        space = dict(model.feature_space or {})
        old = list(space.get("type_keys", []))
        keys = [normalised_key(k) or k for k in old]
        if keys != old and len(set(keys)) == len(keys):  # columns merged: left for the next training to redo
            space["type_keys"] = keys
            group = {f"type:{a}": f"type:{b}" for a, b in zip(old, keys)}
            impact = [{**r, "group": group.get(r.get("group"), r.get("group"))} for r in model.impact or []]
            PredictiveModel.objects.filter(pk=model.pk).update(feature_space=space, impact=impact)
    ConfigVersion.objects.filter(pk=1).update(version=F("version") + 1)
    return merged


def forwards(apps, schema_editor):
    merge_signal_types(apps, schema_editor)


class Migration(migrations.Migration):
    dependencies = [
        ("scoring", "0005_score_history_probabilities"),
        ("signals_app", "0006_signal_account_covering_index"),
    ]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
