"""``timelens-eval data download`` and ``data status`` against a local Hub stand-in.

The real ``huggingface_hub`` client (in a ``timelens-eval`` subprocess, as a user runs
it) talks to :mod:`hub_standin` through ``HF_ENDPOINT``; the repository is
TimeLens-Bench-shaped, with real synthetic videos in tarred shards (:mod:`data_support`).
"""

from __future__ import annotations

import hashlib
import json
import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from data_support import REPO_ID, build_bench_repo, hub_env, run_cli
from hub_standin import HubRepo, HubStandIn
from repo_paths import ROOT

from timelens_eval.store import read_result

SHARD_1 = "video_shards/charades/charades_shard_01.tar.gz"
SHARD_2 = "video_shards/charades/charades_shard_02.tar.gz"
ANET_SHARD = "video_shards/activitynet/activitynet_shard_01.tar.gz"
BENCH = Path("data/TimeLens-Bench")
CHARADES = BENCH / "videos" / "charades"


@pytest.fixture(scope="module")
def bench(tmp_path_factory: pytest.TempPathFactory):
    return build_bench_repo(tmp_path_factory.mktemp("bench"))


def _ok(result: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def _status(cwd: Path, env: dict[str, str], name: str) -> dict:
    (row,) = json.loads(_ok(run_cli(["data", "status", name, "--json"], cwd, env)).stdout)
    return row


def test_download_then_run_with_no_other_flag(tmp_path: Path, bench) -> None:
    with HubStandIn([bench.repo]) as hub:
        env = hub_env(hub.url, tmp_path)
        out = _ok(run_cli(["data", "download", "charades-timelens"], tmp_path, env)).stdout
        assert f"4 videos in {CHARADES}" in out and bench.repo.commit[:12] in out
        # only this benchmark's files were fetched, each once
        fetched = sorted(r.file for r in hub.requests if r.method == "GET" and r.file)
        assert fetched == ["charades-timelens.json", SHARD_1, SHARD_2]
        assert not hub.gets(ANET_SHARD)
    ann = tmp_path / BENCH / "charades-timelens.json"
    assert ann.read_bytes() == bench.files["charades-timelens.json"]
    for name, data in bench.videos.items():
        assert (tmp_path / CHARADES / name).read_bytes() == data
    manifest = json.loads((tmp_path / BENCH / "timelens-eval-manifest.json").read_text())
    assert manifest["commit"] == bench.repo.commit and manifest["requested_revision"] == "main"
    assert manifest["repo_id"] == REPO_ID and manifest["endpoint"] == hub.url
    assert all(manifest["shards"][s]["extracted"] for s in (SHARD_1, SHARD_2))

    status = _status(tmp_path, env, "charades-timelens")
    assert status["found"] and status["present"] == 4 and status["missing"] == 0
    assert status["content_hash"] == hashlib.sha256(ann.read_bytes()).hexdigest()
    assert status["video_folder"] == str(CHARADES) and status["commit"] == bench.repo.commit

    _ok(
        run_cli(["run", "-a", "uniform", "-b", "charades-timelens", "--no-progress"], tmp_path, env)
    )
    result = read_result(tmp_path / "runs/uniform/uniform/charades-timelens.json")
    assert result.summary.n == bench.queries and result.summary.errors == 0
    # a model that reads the frames decodes every downloaded video
    args = ["run", "-a", "mock", "--adapter-args", "frames=true", "-b", "charades-timelens"]
    _ok(run_cli([*args, "--no-progress", "--bootstrap", "0"], tmp_path, env))
    result = read_result(tmp_path / "runs/mock/mock/charades-timelens.json")
    assert result.summary.n == bench.queries and result.summary.errors == 0


def test_two_benchmarks_need_no_video_root(tmp_path: Path, bench) -> None:
    with HubStandIn([bench.repo]) as hub:
        env = hub_env(hub.url, tmp_path)
        names = ["charades-timelens", "activitynet-timelens"]
        _ok(run_cli(["data", "download", *names], tmp_path, env))
        run = ["run", "-a", "mock", "--adapter-args", "frames=true", "--no-progress"]
        run += ["-b", names[0], "-b", names[1], "--bootstrap", "0"]
        _ok(run_cli(run, tmp_path, env))
        for name in names:
            assert read_result(tmp_path / f"runs/mock/mock/{name}.json").summary.errors == 0
        # one video of the second benchmark gone: nothing runs, not even the first one
        (tmp_path / "runs").rename(tmp_path / "runs-before")
        gone = next((tmp_path / BENCH / "videos/activitynet").iterdir())
        gone.unlink()
        failed = run_cli(run, tmp_path, env)
        assert failed.returncode == 2
        (line,) = failed.stderr.strip().splitlines()
        assert line.startswith("error: activitynet-timelens: 1 of 1 videos are missing")
        assert str(gone.relative_to(tmp_path)) in line
        assert "folder searched: data/TimeLens-Bench/videos/activitynet" in line
        assert not (tmp_path / "runs").exists()
        # `data download` again puts it back from the Hub cache, without a request
        hub.clear()
        _ok(run_cli(["data", "download", names[1]], tmp_path, env))
        assert gone.is_file() and hub.requests == []


def test_files_already_in_the_hub_cache_are_not_fetched_again(tmp_path: Path, bench) -> None:
    with HubStandIn([bench.repo]) as hub:
        env = hub_env(hub.url, tmp_path)
        # what `hf download TencentARC/TimeLens-Bench --repo-type dataset` leaves behind
        fill = "import sys; from huggingface_hub import snapshot_download as s; s(sys.argv[1], "
        fill += "repo_type='dataset')"
        done = subprocess.run(
            [sys.executable, "-c", fill, REPO_ID], env=env, capture_output=True, text=True
        )
        assert done.returncode == 0, done.stderr
        assert hub.gets(SHARD_1) and hub.gets(ANET_SHARD)
        hub.clear()
        _ok(run_cli(["data", "download", "charades-timelens"], tmp_path, env))
        # one request: resolving main to the commit to pin; every file came from the cache
        assert [(r.method, r.file) for r in hub.requests] == [("GET", None)]
        assert "/revision/main" in hub.requests[0].path
    assert _status(tmp_path, env, "charades-timelens")["present"] == 4


def test_killed_download_resumes_without_refetching(tmp_path: Path, bench) -> None:
    with HubStandIn([bench.repo]) as hub:
        env = hub_env(hub.url, tmp_path)
        hub.slow(SHARD_2)  # the last file: everything before it is complete when it is killed
        proc = subprocess.Popen(
            [sys.executable, "-m", "timelens_eval", "data", "download", "charades-timelens"],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        size = len(bench.files[SHARD_2])
        deadline = time.monotonic() + 60
        while not any(r.sent > size // 3 for r in hub.gets(SHARD_2)):
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.005)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        (partial,) = hub.gets(SHARD_2)
        assert partial.sent < size  # killed half way through the file
        blobs = tmp_path / "hf/hub/datasets--TencentARC--TimeLens-Bench/blobs"
        assert list(blobs.glob("*.incomplete"))  # the unfinished download's temporary file
        assert len(list((tmp_path / CHARADES).iterdir())) == 2  # shard 1 only

        hub.clear()
        _ok(run_cli(["data", "download", "charades-timelens"], tmp_path, env))
        requests = [(r.method, r.file or r.path) for r in hub.requests]
        # the pinned commit needs no API call; the finished files are not fetched again
        assert requests == [("HEAD", SHARD_2), ("GET", SHARD_2)], requests
        assert hub.gets(SHARD_2)[0].sent == size
    assert _status(tmp_path, env, "charades-timelens")["missing"] == 0
    for name, data in bench.videos.items():
        assert (tmp_path / CHARADES / name).read_bytes() == data


@pytest.mark.slow
def test_dropped_connection_is_resumed_from_the_byte_it_stopped(tmp_path: Path, bench) -> None:
    from data_support import tar_gz

    # over 10 MiB, the client's write size, so that part of it is on disk when the
    # connection drops and the retry asks for the rest only
    padding = os.urandom(24 * 1024 * 1024)
    files = dict(bench.files)
    files[SHARD_1] = tar_gz(
        [("charades/padding.bin", padding)]
        + [(f"charades/{name}", data) for name, data in sorted(bench.videos.items())[:2]]
    )
    repo = HubRepo(REPO_ID, files)
    with HubStandIn([repo]) as hub:
        env = hub_env(hub.url, tmp_path)
        hub.drop(SHARD_1)
        _ok(run_cli(["data", "download", "charades-timelens"], tmp_path, env))
        first, second = hub.gets(SHARD_1)
        size = len(files[SHARD_1])
        assert first.range is None and first.sent == size // 2
        start = int(second.range.removeprefix("bytes=").rstrip("-"))
        assert 0 < start <= first.sent and second.status == 206
        assert second.sent == size - start
    assert (tmp_path / CHARADES / "padding.bin").read_bytes() == padding


def test_token_is_sent_and_revision_stays_pinned(tmp_path: Path, bench) -> None:
    token = "hf_standin_secret_1234"
    with HubStandIn([bench.repo]) as hub:
        env = hub_env(hub.url, tmp_path, HF_TOKEN=token)
        first = _ok(run_cli(["data", "download", "charades-timelens"], tmp_path, env))
        assert hub.requests and all(r.authorization == f"Bearer {token}" for r in hub.requests)
        manifest = tmp_path / BENCH / "timelens-eval-manifest.json"
        assert token not in first.stdout + first.stderr + manifest.read_text()

        # a new commit on main: the local copy stays on the pinned one, with no request
        changed = json.loads(bench.files["charades-timelens.json"])
        vid = next(iter(changed))
        changed[vid]["queries"][0] = "a new query"
        files = {**bench.files, "charades-timelens.json": json.dumps(changed).encode()}
        hub.publish(HubRepo(REPO_ID, files))
        hub.clear()
        _ok(run_cli(["data", "download", "charades-timelens"], tmp_path, env))
        assert hub.requests == []
        ann = tmp_path / BENCH / "charades-timelens.json"
        assert ann.read_bytes() == bench.files["charades-timelens.json"]

        moved = _ok(
            run_cli(["data", "download", "charades-timelens", "--revision", "main"], tmp_path, env)
        )
        new_commit = HubRepo(REPO_ID, files).commit
        assert f"{bench.repo.commit[:12]} -> {new_commit[:12]}" in moved.stderr
        assert ann.read_bytes() == files["charades-timelens.json"]
        assert json.loads(manifest.read_text())["commit"] == new_commit
        assert [r.file for r in hub.requests if r.method == "GET" and r.file] == [
            "charades-timelens.json"  # the shards did not change: extracted videos are kept
        ]

        bad = run_cli(["data", "download", "charades-timelens", "--revision", "v9"], tmp_path, env)
        assert bad.returncode == 2
        assert bad.stderr.strip() == f"error: {REPO_ID}@v9: revision not found"


def test_a_repository_without_the_benchmark_is_one_line(tmp_path: Path, bench) -> None:
    no_shards = {k: v for k, v in bench.files.items() if "charades_shard" not in k}
    no_annotations = {k: v for k, v in bench.files.items() if k != "charades-timelens.json"}
    for files, message in (
        (no_shards, "has no video shards for charades-timelens"),
        (no_annotations, "has no charades-timelens.json (files: README.md, "),
    ):
        repo = HubRepo(REPO_ID, files)
        with HubStandIn([repo]) as hub:
            env = hub_env(hub.url, tmp_path / repo.commit[:8])
            result = run_cli(["data", "download", "charades-timelens"], tmp_path, env)
        assert result.returncode == 2 and result.stderr.count("\n") == 1
        assert result.stderr.startswith(f"error: {REPO_ID}@{repo.commit[:12]} {message}")
        (tmp_path / BENCH / "timelens-eval-manifest.json").unlink()


def test_hub_errors_are_one_line(tmp_path: Path, bench) -> None:
    with HubStandIn([]) as hub:  # no repository at all
        env = hub_env(hub.url, tmp_path)
        result = run_cli(["data", "download", "qvhighlights-timelens"], tmp_path, env)
        assert result.returncode == 2
        assert result.stderr.strip() == (
            f"error: {REPO_ID}@main: repository not found (a private one needs "
            "`hf auth login` or HF_TOKEN)"
        )
    env = hub_env("http://127.0.0.1:9", tmp_path)  # nothing listens there
    result = run_cli(["data", "download", "charades-timelens"], tmp_path, env)
    assert result.returncode == 2 and result.stderr.count("\n") == 1
    assert result.stderr.startswith(f"error: {REPO_ID}@main: cannot reach http://127.0.0.1:9")


def test_unknown_name_fails_before_any_download(tmp_path: Path, bench) -> None:
    with HubStandIn([bench.repo]) as hub:
        env = hub_env(hub.url, tmp_path)
        result = run_cli(["data", "download", "charades-timelens", "charades-tl"], tmp_path, env)
        assert result.returncode == 2 and result.stderr.startswith(
            "error: unknown benchmark 'charades-tl'; did you mean"
        )
        assert hub.requests == []


def test_root_option_and_the_data_variable(tmp_path: Path, bench) -> None:
    with HubStandIn([bench.repo]) as hub:
        env = hub_env(hub.url, tmp_path)
        result = _ok(
            run_cli(["data", "download", "charades-timelens", "--root", "elsewhere"], tmp_path, env)
        )
        assert "set TIMELENS_EVAL_DATA=elsewhere" in result.stderr
        assert (tmp_path / "elsewhere/TimeLens-Bench/charades-timelens.json").is_file()
        assert _status(tmp_path, env, "charades-timelens")["found"] is False
        env["TIMELENS_EVAL_DATA"] = "elsewhere"
        row = _status(tmp_path, env, "charades-timelens")
        assert (
            row["present"] == 4
            and row["video_folder"] == "elsewhere/TimeLens-Bench/videos/charades"
        )
        _ok(
            run_cli(
                ["run", "-a", "uniform", "-b", "charades-timelens", "--no-progress"], tmp_path, env
            )
        )
    # --video-root still overrides the benchmark's own folder
    moved = tmp_path / "moved"
    (tmp_path / "elsewhere/TimeLens-Bench/videos/charades").rename(moved)
    run = ["run", "-a", "mock", "--adapter-args", "frames=true", "-b", "charades-timelens"]
    run += ["--no-progress", "--bootstrap", "0"]
    assert run_cli(run, tmp_path, env).returncode == 2  # the default folder is gone
    _ok(run_cli([*run, "--video-root", str(moved)], tmp_path, env))
    assert read_result(tmp_path / "runs/mock/mock/charades-timelens.json").summary.errors == 0


def _docs_commands() -> list[list[str]]:
    """The commands of docs/running.md's "From nothing to a number" section."""
    text = (ROOT / "docs" / "running.md").read_text(encoding="utf-8")
    section = text.split("## From nothing to a number", 1)[1]
    block = section.split("```bash\n", 1)[1].split("```", 1)[0]
    return [shlex.split(line) for line in block.strip().splitlines()]


def test_the_three_commands_of_the_docs(tmp_path: Path, bench) -> None:
    commands = _docs_commands()
    assert len(commands) == 3 and all(c[0] == "timelens-eval" for c in commands)
    with HubStandIn([bench.repo]) as hub:
        env = hub_env(hub.url, tmp_path)
        outputs = [_ok(run_cli(command[1:], tmp_path, env)) for command in commands]
    status = " ".join(outputs[1].stdout.split())
    assert "charades-timelens.json" in status and "4 present, 0 missing" in status
    assert "mIoU" in outputs[2].stdout and "uniform" in outputs[2].stdout
    result = read_result(tmp_path / "runs/uniform/uniform/charades-timelens.json")
    assert result.summary.n == bench.queries and result.spec.benchmark == "charades-timelens"
