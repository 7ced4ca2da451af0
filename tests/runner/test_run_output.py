"""Where a run's files go (``-o`` has one meaning, shards and adapters never share files)
and how every tool treats the sidecar and lock files beside a result."""

from __future__ import annotations

import glob
import json
from pathlib import Path

import pytest
from repo_paths import ROOT
from runner_support import metrics_of

from timelens_eval.cli import main
from timelens_eval.runner.files import output_path
from timelens_eval.runner.options import parse_shard
from timelens_eval.store import read_result, sidecar_kind

MOCK = ["run", "-a", "mock", "--no-progress", "--bootstrap", "0"]


def _shell_glob(pattern: Path) -> list[str]:
    """What a POSIX shell passes for ``pattern`` (sorted, dotfiles excluded)."""
    return sorted(glob.glob(str(pattern)))


def test_output_path_has_one_rule(tmp_path):
    one, shard = parse_shard("1/4"), None
    assert output_path(tmp_path / "r.json", "b", shard) == tmp_path / "r.json"
    assert output_path(tmp_path / "r.json", "b", one) == tmp_path / "r.shard-1-of-4.json"
    assert output_path(tmp_path / "r.shard-1-of-4.json", "b", one) == tmp_path / (
        "r.shard-1-of-4.json"
    )
    assert output_path(tmp_path / "out", "b", shard) == tmp_path / "out" / "b.json"
    assert output_path(tmp_path / "out", "b", one) == tmp_path / "out" / "b.shard-1-of-4.json"
    (tmp_path / "odd.json").mkdir()  # an existing folder is a folder, whatever its name
    assert output_path(tmp_path / "odd.json", "b", shard) == tmp_path / "odd.json" / "b.json"


def test_a_folder_output_gets_one_result_per_benchmark(tmp_path, capsys):
    out = tmp_path / "results" / "org" / "model"
    assert main([*MOCK, "-b", "synthetic-refined", "--limit", "4", "-o", str(out)]) == 0
    assert read_result(out / "synthetic-refined.json").summary.n == 4
    both = ["-b", "synthetic-original", "-b", "synthetic-refined", "--limit", "4"]
    assert main([*MOCK, *both, "-o", str(out)]) == 0
    assert read_result(out / "synthetic-original.json").spec.benchmark == "synthetic-original"
    assert sorted(p.name for p in out.glob("*.json")) == [
        "synthetic-original.json",
        "synthetic-refined.json",
    ]
    # A .json path names one result: refused for two benchmarks, before anything runs.
    capsys.readouterr()
    assert main([*MOCK, *both, "-o", str(tmp_path / "one.json")]) == 2
    assert "names one result file but 2 benchmarks" in capsys.readouterr().err
    assert not (tmp_path / "one.json").exists()


def test_shards_given_one_output_are_named_apart_and_merge_from_a_glob(tmp_path, capsys):
    common = [*MOCK, "-b", "synthetic-refined", "--limit", "30"]
    whole = tmp_path / "whole.json"
    assert main([*common, "-o", str(whole)]) == 0
    target = tmp_path / "sharded" / "r.json"
    for index in range(3):
        assert main([*common, "--shard", f"{index}/3", "-o", str(target)]) == 0
    names = sorted(p.name for p in target.parent.iterdir())
    assert [n for n in names if sidecar_kind(n) is None] == [
        f"r.shard-{i}-of-3.json" for i in range(3)
    ]
    # A glob as a shell expands it, sidecars, lock files and an old-style spec included.
    (target.parent / "r.shard-0-of-3.spec.json").write_text("{}")
    headers = _shell_glob(target.parent / "r.shard-*")
    assert any(name.endswith(".lock") for name in headers)
    capsys.readouterr()
    assert main(["merge", *headers]) == 0
    assert "30 samples from 3 shards" in capsys.readouterr().err
    assert metrics_of(target) == metrics_of(whole)
    # The merged result has no spec sidecar: a rerun there reads the header's spec.
    assert main([*common, "-o", str(target)]) == 0
    assert "(30 resumed, 0 run" in capsys.readouterr().err
    assert main([*common, "--adapter-args", "rule=center", "-o", str(target)]) == 2
    assert "holds a different run" in capsys.readouterr().err


def test_two_adapters_reporting_one_model_name_do_not_collide(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for adapter in ("mock", "random"):
        argv = [*MOCK[:1], "-a", adapter, "--adapter-args", "model=shared", *MOCK[3:]]
        assert main([*argv, "-b", "synthetic-refined", "--limit", "5"]) == 0
    mock = read_result(tmp_path / "runs" / "mock" / "shared" / "synthetic-refined.json")
    rand = read_result(tmp_path / "runs" / "random" / "shared" / "synthetic-refined.json")
    assert (mock.spec.adapter, rand.spec.adapter) == ("mock", "random")
    assert mock.spec.model == rand.spec.model == "shared"


def test_a_run_written_with_the_old_spec_name_resumes(tmp_path, capsys):
    out = tmp_path / "r.json"
    common = [*MOCK, "-b", "synthetic-refined", "--limit", "6", "-o", str(out)]
    assert main(common) == 0
    before = metrics_of(out)
    # As an earlier version left it: NAME.spec.json beside the stream, no header yet.
    spec = out.with_name("r.json.spec")
    spec.rename(out.with_name("r.spec.json"))
    out.unlink()
    assert main(common) == 0
    assert "(6 resumed, 0 run" in capsys.readouterr().err
    assert metrics_of(out) == before
    assert spec.exists() and not out.with_name("r.spec.json").exists()
    # The old spec is read, not ignored: a different run is refused.
    spec.rename(out.with_name("r.spec.json"))
    assert main([*common[:-2], "--adapter-args", "rule=center", "-o", str(out)]) == 2
    assert "holds a different run" in capsys.readouterr().err


@pytest.fixture(scope="module")
def full_run(tmp_path_factory) -> Path:
    """A complete mock run on synthetic-refined, with an old-style spec and lock beside it."""
    folder = tmp_path_factory.mktemp("results") / "org" / "model"
    argv = [*MOCK, "-b", "synthetic-refined", "-b", "synthetic-original", "-o", str(folder)]
    assert main(argv) == 0
    spec = json.loads((folder / "synthetic-refined.json.spec").read_text())
    (folder / "old.spec.json").write_text(json.dumps(spec))
    (folder / "old.lock").write_text("")
    return folder


def test_validate_skips_sidecars_in_a_glob(full_run, capsys):
    files = _shell_glob(full_run / "*")
    assert main(["leaderboard", "validate", *files]) == 0
    out = capsys.readouterr().out
    assert out.count("ok      ") == 2 and "INVALID" not in out
    for name in ("synthetic-refined.json.spec", "old.spec.json", "old.lock", ".samples.jsonl"):
        assert f"{name} (" in out and "skipped" in out
    assert main(["leaderboard", "validate", *_shell_glob(full_run / "*.json")]) == 0
    assert main(["leaderboard", "validate", str(full_run)]) == 0  # a folder
    assert main(["leaderboard", "validate", str(full_run / "old.spec.json")]) == 2
    assert "no result file among the arguments" in capsys.readouterr().err


def test_compare_report_and_build_skip_sidecars_named_on_the_command_line(
    full_run, tmp_path, capsys
):
    files = _shell_glob(full_run / "*")
    assert main(["compare", *files, "--bootstrap", "0", "--json"]) == 0
    pairs = json.loads(capsys.readouterr().out)["pairs"]
    assert [p["models"][0]["model"] for p in pairs] == ["mock"]
    assert main(["report", *files, "--bootstrap", "0", "--out", str(tmp_path / "rep")]) == 0
    assert (tmp_path / "rep" / "report.html").is_file()
    site = tmp_path / "site"
    assert main(["leaderboard", "build", "--results", *files, "--out", str(site)]) == 0
    assert "from 2 results" in capsys.readouterr().out
    # --results A B: both are read, as the help says.
    from timelens_eval.compare import find_result_files

    shipped = ROOT / "results"
    argv = ["leaderboard", "build", "--results", str(full_run), str(shipped), "--out", str(site)]
    assert main(argv) == 0
    expected = 2 + len(find_result_files([shipped]))
    assert f"from {expected} results" in capsys.readouterr().out


def test_a_path_inside_the_project_is_recorded_relative_to_it(tmp_path):
    from timelens_eval.runner.defaults import REFERENCE_MODEL_DIR
    from timelens_eval.runner.provenance import portable_args

    args = {"model": str(REFERENCE_MODEL_DIR), "elsewhere": str(tmp_path), "n": 3}
    assert portable_args(args) == {
        "model": "timelens_eval/data/reference-tiny",
        "elsewhere": str(tmp_path),
        "n": 3,
    }


def test_the_default_run_takes_a_folder_not_a_file(tmp_path, capsys):
    assert main(["run", "-o", str(tmp_path / "one.json"), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "the default run writes one result per model and benchmark; give a folder" in err
    assert not any(tmp_path.iterdir())
