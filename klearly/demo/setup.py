"""What the demo sets up before its world is written: the operators and their groups, the teams and shipped
playbooks, the signal types and topics of its catalog (with the demo scorecard), and the write key of its website
source. Each step creates what is missing and keeps what is there (an admin's changes survive a rerun)."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.db.models import Q

from klearly.demo.catalog import TOPICS, TYPES
from klearly.demo.workspace import DEMO_LOGINS, DEMO_PLAYBOOKS, DEMO_TEAMS, OWNERS, DemoLogin
from playbooks.models import Playbook, Team
from scoring.defaults import DEFAULT_ENGAGEMENT_RULES
from scoring.services import engagement_rules_ensure
from signals_app.choices import IngestionKind
from signals_app.models import IngestionSource, SignalTopic, SignalType, WriteKey
from signals_app.services import write_key_create, write_key_revoke

SEGMENT_SOURCE_NAME = "Website (Segment)"
WRITE_KEY_LABEL = "seed_demo"


def demo_users_ensure() -> list[tuple[DemoLogin, bool]]:
    """Create the demo operators that are missing (existing ones keep their password) and their groups."""
    user_model = get_user_model()
    view_permissions = list(
        Permission.objects.filter(
            Q(content_type__app_label__in=("accounts", "signals_app"))
            | Q(
                content_type__app_label="scoring",
                content_type__model__in=("signalrule", "historicalsignalrule", "rulehit"),
            ),
            codename__startswith="view_",
        )
    )
    result = []
    for login in DEMO_LOGINS:
        user = user_model.objects.filter(username=login.username).first()
        created = user is None
        if user is None:
            user = user_model(
                username=login.username,
                email=login.email,
                first_name=login.first_name,
                last_name=login.last_name,
                # Operators work in the inbox and see their team's tasks; only the administrator sees everything.
                is_staff=login.role == "superuser",
                is_superuser=login.role == "superuser",
            )
            user.set_password(login.password)
            user.save()
        if login.group:
            group, _ = Group.objects.get_or_create(name=login.group)
            group.permissions.add(*view_permissions)
            user.groups.add(group)
        result.append((login, created))
    return result


def demo_playbooks_ensure() -> list[Playbook]:
    """The demo teams (members added when missing) and the shipped playbooks (created when missing)."""
    users = {u.username: u for u in get_user_model().objects.filter(username__in=OWNERS)}
    teams = {}
    for name, members in DEMO_TEAMS:
        team, _ = Team.objects.get_or_create(name=name)
        team.members.add(*[users[m] for m in members if m in users])
        teams[name] = team
    playbooks = []
    for spec in DEMO_PLAYBOOKS:
        values = {k: v for k, v in spec.items() if k not in ("name", "team")}
        playbook, _ = Playbook.objects.get_or_create(
            name=spec["name"], defaults={**values, "assign_team": teams[spec["team"]]}
        )
        playbooks.append(playbook)
    return playbooks


def demo_catalog_ensure() -> tuple[dict[str, SignalType], dict[str, SignalTopic]]:
    """The demo's signal types and topics; existing rows (maybe tuned by an admin) are left as they are."""
    types = {t.key: t for t in SignalType.objects.filter(key__in=[spec.key for spec in TYPES])}
    SignalType.objects.bulk_create(
        [
            SignalType(
                key=spec.key,
                label=spec.label,
                category=spec.category,
                default_direction=spec.direction,
                default_source=spec.source,
                is_key_feature=spec.key_feature,
                is_activation_milestone=spec.activation,
            )
            for spec in TYPES
            if spec.key not in types
        ]
    )
    types = {t.key: t for t in SignalType.objects.filter(key__in=[spec.key for spec in TYPES])}
    # The demo's scorecard weighs what the default scorecard weighs (scoring.defaults) and states that it leaves the
    # rest out (0-point rules), instead of letting them take the default weight for types without a rule: a CS lead
    # can give logins or support tickets points in the admin and see the effect with "Preview".
    engagement_rules_ensure(
        rules={spec.key: (0.0, None, None, None) for spec in TYPES if spec.key not in DEFAULT_ENGAGEMENT_RULES},
        reason="demo scorecard: not weighed",
        rescore=False,  # seed_demo scores every account once the world is written
    )
    topics = {t.key: t for t in SignalTopic.objects.filter(key__in=[key for key, _l, _p in TOPICS])}
    for key, label, parent in TOPICS:  # parents come first in TOPICS
        if key not in topics:
            topics[key] = SignalTopic.objects.create(key=key, label=label, parent=topics[parent] if parent else None)
    return types, topics


def demo_write_key_ensure(*, reset: bool) -> tuple[str, str]:
    """The demo's write key for the "Website (Segment)" source: (secret if created now, prefix)."""
    source, _ = IngestionSource.objects.get_or_create(
        name=SEGMENT_SOURCE_NAME, defaults={"kind": IngestionKind.SEGMENT}
    )
    keys = WriteKey.objects.filter(source=source, label=WRITE_KEY_LABEL, revoked_at__isnull=True)
    if reset:
        for key in keys:
            write_key_revoke(key=key)
    elif keys:
        return "", keys[0].prefix
    key, raw = write_key_create(source=source, label=WRITE_KEY_LABEL)
    return raw, key.prefix
