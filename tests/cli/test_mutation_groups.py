"""The mutation groups (``scripts/mutation.py``) name files that exist: a test file moved
or renamed without the script would otherwise leave its mutants unchecked."""

from __future__ import annotations

import importlib.util

from repo_paths import ROOT


def _mutation_script():
    spec = importlib.util.spec_from_file_location("mutation", ROOT / "scripts" / "mutation.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_file_a_mutation_group_names_exists() -> None:
    mutation = _mutation_script()
    assert mutation.missing_paths() == []
    # Every group mutates code and names the tests that must kill its mutants.
    for group, (files, tests) in mutation.GROUPS.items():
        assert files and tests, group
        assert all(f.startswith("timelens_eval/") for f in files), group
        assert all(t.startswith("tests/") and "/test_" in t for t in tests), group
