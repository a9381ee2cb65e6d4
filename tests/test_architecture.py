"""The architecture's contracts hold: apps depend one way, ``scoring.ml`` imports no Django and no app code, no
app imports the web UI (``klearly.web``) (pyproject.toml, ``[tool.importlinter]``), and no app imports another
app's private names."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from importlinter import cli

ROOT = Path(__file__).resolve().parents[1]


def test_import_contracts_are_kept(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(ROOT)
    exit_code = cli.lint_imports(no_cache=True, no_logo=True)
    report = capsys.readouterr().out
    assert exit_code == 0, report
    assert "0 broken" in report


PRODUCT_PACKAGES = ("klearly", "accounts", "signals_app", "scoring", "playbooks")


def _imported_names(path: Path) -> list[tuple[str, str, int]]:
    """(module, name, line) of every ``from module import name`` in a file, relative imports resolved."""
    package = path.relative_to(ROOT).with_suffix("").parts
    package = package[:-1] if package[-1] != "__init__" else package[:-1]
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else ()
            module = ".".join((*base, *(node.module.split(".") if node.module else ())))
            found += [(module, alias.name, node.lineno) for alias in node.names]
    return found


def test_no_app_imports_a_private_name_of_another_app() -> None:
    """A name starting with "_" is its module's own: another app uses the public API instead (tests may)."""
    offences = []
    for app in PRODUCT_PACKAGES:
        for path in sorted((ROOT / app).rglob("*.py")):
            for module, name, line in _imported_names(path):
                other = module.split(".")[0]
                if other in PRODUCT_PACKAGES and other != app and name.startswith("_"):
                    offences.append(f"{path.relative_to(ROOT)}:{line}: from {module} import {name}")
    assert not offences, "\n".join(offences)
