"""The demo world behind ``manage.py seed_demo``: a believable B2B SaaS with accounts, contacts, about nine months
of signals, and stage movements that really follow from behaviour.

Two halves. :func:`demo_simulate` is pure NumPy, seeded, with no ORM (``simulation`` and the modules it reads:
``catalog``, ``timing``, ``people``, ``details``, ``workspace``; an import-linter contract keeps them free of Django
and app code). :func:`demo_world_build` writes the result with bulk inserts (``build``) after ``setup`` has created
the operators, playbooks, catalog rows and write key.
"""

from klearly.demo.build import (
    DEMO_PREFIX,
    DEMO_SOURCE_NAME,
    DemoReport,
    demo_world_build,
    demo_world_delete,
    demo_world_exists,
)
from klearly.demo.catalog import STAGE_KEYS, TOPICS, TYPES, TypeSpec
from klearly.demo.people import FREE_EMAIL_DOMAINS
from klearly.demo.setup import (
    SEGMENT_SOURCE_NAME,
    WRITE_KEY_LABEL,
    demo_catalog_ensure,
    demo_playbooks_ensure,
    demo_users_ensure,
    demo_write_key_ensure,
)
from klearly.demo.simulation import DemoWorld, demo_simulate
from klearly.demo.timing import WINDOW_DAYS, demo_anchor
from klearly.demo.workspace import DEMO_LOGINS, DEMO_PLAYBOOKS, DEMO_SEGMENTS, DEMO_TEAMS, OWNERS, DemoLogin

__all__ = [
    "DEMO_LOGINS",
    "DEMO_PLAYBOOKS",
    "DEMO_PREFIX",
    "DEMO_SEGMENTS",
    "DEMO_SOURCE_NAME",
    "DEMO_TEAMS",
    "FREE_EMAIL_DOMAINS",
    "OWNERS",
    "SEGMENT_SOURCE_NAME",
    "STAGE_KEYS",
    "TOPICS",
    "TYPES",
    "WINDOW_DAYS",
    "WRITE_KEY_LABEL",
    "DemoLogin",
    "DemoReport",
    "DemoWorld",
    "TypeSpec",
    "demo_anchor",
    "demo_catalog_ensure",
    "demo_playbooks_ensure",
    "demo_simulate",
    "demo_users_ensure",
    "demo_world_build",
    "demo_world_delete",
    "demo_world_exists",
    "demo_write_key_ensure",
]
