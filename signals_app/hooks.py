"""Hooks the apps above ``signals_app`` listen to, so a person's data they hold is forgotten and exported with the
rest without ``signals_app`` importing them (``playbooks`` scrubs task texts, ``scoring`` exports contact scores).

Both are sent by ``signals_app.privacy`` with ``person`` (a :class:`signals_app.privacy.Person`) and ``mentions`` (its
:class:`signals_app.privacy.Mentions`: the person's email addresses, with helpers to find and remove them).

``person_forgetting`` is sent inside the erasure's transaction, with ``dry_run`` (True: count, change nothing). Each
receiver returns ``{kind: count}`` (numbers only: they go into the audit record).

``person_exporting`` is sent by the export; each receiver returns ``{section: list of plain JSON values}``.
"""

from django.dispatch import Signal as Hook

person_forgetting = Hook()
person_exporting = Hook()
