"""factory_boy factories for the domain models."""

from __future__ import annotations

from datetime import UTC, datetime

import factory
from django.contrib.auth import get_user_model

from accounts.models import Account, Contact, JourneyStage, StageTransition
from signals_app.models import IngestionSource, Signal, SignalTopic, SignalType


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@klearly.test")


class AccountFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Account

    external_id = factory.Sequence(lambda n: f"acc-{n}")
    name = factory.Sequence(lambda n: f"Company {n}")
    domain = factory.LazyAttribute(lambda a: f"{a.external_id}.example.com")
    industry = "Software"
    employees = 120
    created_at = datetime(2026, 1, 1, tzinfo=UTC)


class ContactFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Contact

    external_id = factory.Sequence(lambda n: f"con-{n}")
    account = factory.SubFactory(AccountFactory)
    email = factory.LazyAttribute(lambda c: f"{c.external_id}@example.com")
    first_name = "Ada"
    last_name = factory.Sequence(lambda n: f"Lovelace{n}")


class SignalTypeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SignalType
        django_get_or_create = ("key",)

    key = factory.Sequence(lambda n: f"type-{n}")
    label = factory.LazyAttribute(lambda t: t.key.replace("-", " ").title())


class SignalTopicFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SignalTopic
        django_get_or_create = ("key",)

    key = factory.Sequence(lambda n: f"topic-{n}")
    label = factory.LazyAttribute(lambda t: t.key.title())


class IngestionSourceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = IngestionSource
        django_get_or_create = ("name",)

    name = "Tests"


class SignalFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Signal

    account = factory.SubFactory(AccountFactory)
    type = factory.SubFactory(SignalTypeFactory)
    direction = "inbound"
    source = "product"
    occurred_at = datetime(2026, 3, 1, 12, tzinfo=UTC)
    ingestion_source = factory.SubFactory(IngestionSourceFactory)
    idempotency_key = factory.Sequence(lambda n: f"msg-{n}")


def stage(key: str) -> JourneyStage:
    """A stage of the default journey (created by migration)."""
    return JourneyStage.objects.get(key=key)


def transition(account: Account, key: str, when: datetime) -> StageTransition:
    return StageTransition.objects.create(account=account, to_stage=stage(key), changed_at=when, movement="entry")
