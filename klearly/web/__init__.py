"""The web UI: the task inbox, task actions (one and in bulk), account pages, account lists and saved views.

It sits on top of the apps and no app imports it (an import contract in pyproject.toml). The views are thin: reads go
through selectors (``playbooks.selectors`` decides who sees what, the same rules as the API; ``selectors`` here holds
the pages' own reads), filters through the shared FilterSets, writes through ``playbooks.services``. Templates are
``templates/web/``, their filters ``klearly/templatetags/web.py``.
"""
