"""Mutation testing of the scoring core, the rank-shift statistics and the RLVR reward.

    python scripts/mutation.py GROUP [GROUP ...]     # e.g. spans parsing metrics
    python scripts/mutation.py --list
    python scripts/mutation.py --rerun-survivors GROUP   # after adding tests

Each group names the files whose mutants are made and the test files that must kill
them. A group runs ``mutmut run`` (configured under ``[tool.mutmut]`` in pyproject.toml)
in its own folder, ``out/mutation/GROUP``, which links to this checkout's code and tests
and holds the generated ``pyproject.toml`` that restricts mutmut to the group; then it
prints the counts and writes ``out/mutation/GROUP/survivors.txt`` (each surviving
mutant's name and diff). Mutants run at ``nice -n 15``: the run is CPU-heavy.
``--rerun-survivors`` runs only the last run's survivors again (mutmut then forgets the
other results, so the counts of the earlier run are kept in ``out/mutation/GROUP/stats.json``
and updated): tests are only ever added, so a killed mutant stays killed.
``docs/testing.md`` keeps the latest scores and every survivor judged equivalent.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import tomllib

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "out" / "mutation"

# group -> (files to mutate, test files that pin them)
GROUPS: dict[str, tuple[list[str], list[str]]] = {
    "spans": (
        ["timelens_eval/spans.py"],
        [
            "tests/scoring/test_core_spans.py",
            "tests/scoring/test_core_metrics.py",
            "tests/scoring/test_metrics_rules.py",
        ],
    ),
    "parsing": (
        ["timelens_eval/parsing.py", "timelens_eval/parsing_batch.py"],
        [
            "tests/scoring/test_parsing_timelens_equivalence.py",
            "tests/scoring/test_parsing_real_outputs.py",
            "tests/scoring/test_parsing_batch.py",
            "tests/scoring/test_parsing_options.py",
            "tests/scoring/test_score_paths.py",
            "tests/scoring/test_byte_reader.py",
        ],
    ),
    "metrics": (
        ["timelens_eval/metrics.py"],
        [
            "tests/scoring/test_core_metrics.py",
            "tests/scoring/test_score_ci.py",
            "tests/scoring/test_metrics_rules.py",
        ],
    ),
    "scoring": (
        ["timelens_eval/scoring.py"],
        [
            "tests/scoring/test_score_cli.py",
            "tests/scoring/test_score_paths.py",
            "tests/scoring/test_score_rules.py",
            "tests/scoring/test_score_other_tools.py",
            "tests/scoring/test_score_matching.py",
            "tests/scoring/test_byte_reader.py",
            "tests/scoring/test_parsing_options.py",
            "tests/scoring/test_score_ci.py",
            "tests/scoring/test_parsing_timelens_equivalence.py",
        ],
    ),
    "pieces": (
        ["timelens_eval/predictions_columns/_pieces.py"],
        ["tests/scoring/test_read_pieces.py", "tests/scoring/test_byte_reader.py"],
    ),
    "compare-stats": (
        ["timelens_eval/compare_stats.py"],
        [
            "tests/compare/test_compare_stats.py",
            "tests/compare/test_compare.py",
            "tests/compare/test_compare_rules.py",
        ],
    ),
    "compare": (
        ["timelens_eval/compare.py"],
        [
            "tests/compare/test_compare.py",
            "tests/compare/test_compare_rules.py",
            "tests/compare/test_compare_stats.py",
        ],
    ),
    "reward": (["timelens_eval/rlvr/reward.py"], ["tests/rlvr/test_rlvr_reward.py"]),
}

NEEDS_TIMELENS = ("parsing", "scoring")
"""Groups whose tests compare against a TimeLens checkout named by ``TIMELENS_REPO``."""


def missing_paths() -> list[str]:
    """The files GROUPS names (code and tests) that are not in this checkout."""
    named = {path for files, tests in GROUPS.values() for path in (*files, *tests)}
    return sorted(path for path in named if not (ROOT / path).is_file())


def _group_config(files: list[str], tests: list[str]) -> str:
    """``pyproject.toml`` for a group: the repository's ``[tool.mutmut]`` plus the group."""
    base = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    conf = dict(base["tool"]["mutmut"])
    conf["only_mutate"] = files
    conf["pytest_add_cli_args_test_selection"] = tests
    # mutmut copies only .py files: the compiled scanner, where it was built, goes along.
    built = sorted(
        str(path.relative_to(ROOT))
        for suffix in ("*.so", "*.pyd")
        for path in (ROOT / "timelens_eval").rglob(suffix)
    )
    conf["also_copy"] = [*conf.get("also_copy", []), *built]
    lines = ["[tool.mutmut]"] + [f"{key} = {json.dumps(value)}" for key, value in conf.items()]
    pytest = base["tool"]["pytest"]["ini_options"]
    lines += ["", "[tool.pytest.ini_options]", f"markers = {json.dumps(pytest['markers'])}"]
    lines.append(f"pythonpath = {json.dumps(pytest['pythonpath'])}")  # the tests' helpers
    return "\n".join(lines) + "\n"


def prepare(group: str) -> Path:
    """The group's folder: links to the code, tests and data, and its own config."""
    files, tests = GROUPS[group]
    folder = OUT / group
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("timelens_eval", "tests", "benchmarks", "leaderboard", "results"):
        link = folder / name
        if not link.exists():
            link.symlink_to(ROOT / name)
    shared = ROOT.parent / "shared"
    if shared.is_dir() and not (folder / "shared").exists():
        (folder / "shared").symlink_to(shared)  # tests read ../shared/data from mutants/
    (folder / "pyproject.toml").write_text(_group_config(files, tests), encoding="utf-8")
    return folder


def run(group: str, fresh: bool) -> dict[str, int]:
    """Run mutmut for one group and return its counts by status."""
    folder = prepare(group)
    if fresh:
        shutil.rmtree(folder / "mutants", ignore_errors=True)
    mutmut = [sys.executable, "-m", "mutmut"]
    env = {**os.environ, "PYTHONPATH": "", "TIMELENS_PROPERTY_EXAMPLES": "40"}
    subprocess.run(["nice", "-n", "15", *mutmut, "run"], cwd=folder, env=env, check=False)
    subprocess.run([*mutmut, "export-cicd-stats"], cwd=folder, env=env, check=True)
    stats = json.loads((folder / "mutants" / "mutmut-cicd-stats.json").read_text())
    write_survivors(folder)
    (folder / "stats.json").write_text(json.dumps(stats, indent=1), encoding="utf-8")
    return stats


def _survivor_names(folder: Path) -> list[str]:
    env = {**os.environ, "PYTHONPATH": ""}
    shown = subprocess.run(
        [sys.executable, "-m", "mutmut", "results"],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return [line.split(":")[0].strip() for line in shown.splitlines() if ": survived" in line]


def rerun_survivors(group: str) -> dict[str, int]:
    """Run the survivors of the group's last full run again; returns the updated counts."""
    folder = prepare(group)
    stats = json.loads((folder / "stats.json").read_text(encoding="utf-8"))
    names = _survivor_names(folder)
    env = {**os.environ, "PYTHONPATH": "", "TIMELENS_PROPERTY_EXAMPLES": "40"}
    mutmut = [sys.executable, "-m", "mutmut"]
    if names:
        subprocess.run(["nice", "-n", "15", *mutmut, "run", *names], cwd=folder, env=env)
    left = len(_survivor_names(folder))
    stats["killed"] = stats.get("killed", 0) + len(names) - left
    stats["survived"] = left
    write_survivors(folder)
    (folder / "stats.json").write_text(json.dumps(stats, indent=1), encoding="utf-8")
    return stats


def write_survivors(folder: Path) -> list[str]:
    """One line per surviving mutant (name, the line it changes and how) in survivors.txt."""
    mutmut = [sys.executable, "-m", "mutmut"]
    env = {**os.environ, "PYTHONPATH": ""}
    shown = subprocess.run(
        [*mutmut, "results"], cwd=folder, env=env, capture_output=True, text=True, check=True
    ).stdout
    names = [line.split(":")[0].strip() for line in shown.splitlines() if ": survived" in line]
    lines = []
    for name in names:
        diff = subprocess.run(
            [*mutmut, "show", name], cwd=folder, env=env, capture_output=True, text=True
        ).stdout.splitlines()
        old = [d[1:].strip() for d in diff if d.startswith("-") and not d.startswith("---")]
        new = [d[1:].strip() for d in diff if d.startswith("+") and not d.startswith("+++")]
        short = name.split(".x_")[-1].split(".xǁ")[-1]
        lines.append(f"{short}: `{' '.join(old)}` -> `{' '.join(new)}`")
    (folder / "survivors.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return lines


def main() -> None:
    """Run the named groups and print each one's score."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("groups", nargs="*", help="groups to run (default: all)")
    parser.add_argument("--list", action="store_true", help="print the groups and exit")
    parser.add_argument("--fresh", action="store_true", help="forget earlier results")
    parser.add_argument(
        "--rerun-survivors",
        action="store_true",
        help="run only the last run's survivors again (after adding tests)",
    )
    parser.add_argument(
        "--survivors", action="store_true", help="only list the survivors of the last run"
    )
    args = parser.parse_args()
    missing = missing_paths()
    if missing:
        # A moved or renamed file would otherwise drop out of its group without a word.
        raise SystemExit(f"GROUPS names files that do not exist: {', '.join(missing)}")
    if args.list:
        for name, (files, tests) in GROUPS.items():
            print(f"{name}: {' '.join(files)} <- {' '.join(tests)}")
        return
    for group in args.groups or list(GROUPS):
        if group not in GROUPS:
            raise SystemExit(f"unknown group {group!r}; use one of {', '.join(GROUPS)}")
        if args.survivors:
            print("\n".join(write_survivors(OUT / group)))
            continue
        if group in NEEDS_TIMELENS and not os.environ.get("TIMELENS_REPO"):
            print(
                f"warning: TIMELENS_REPO is not set: the {group} tests that run TimeLens' own "
                "extract_time are skipped, and mutants only they would kill survive",
                file=sys.stderr,
            )
        stats = rerun_survivors(group) if args.rerun_survivors else run(group, args.fresh)
        killed = stats.get("killed", 0) + stats.get("timeout", 0)
        total = stats.get("total", 0)
        print(
            f"{group}: {total} mutants, {killed} killed, {stats.get('survived', 0)} survived, "
            f"{stats.get('no_tests', 0)} not reached; score {100 * killed / max(total, 1):.1f}%"
        )


if __name__ == "__main__":
    main()
