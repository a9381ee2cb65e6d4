"""Playbooks, tasks and experiments (built by the playbooks issue)."""
