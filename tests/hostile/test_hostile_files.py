"""Hostile files given to ``score``, ``leaderboard validate`` and ``leaderboard build``:
nesting 100,000 deep, 5,000-digit numbers, keys given twice, bytes that are not UTF-8,
files over the size limits, and headers whose ``samples_file`` points at devices, pipes,
``/etc/passwd`` or out of the folder. Each is refused with one line naming the file
(and line); nothing crashes, blocks or reads without bound."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from compare_support import synth_samples, write_run

from timelens_eval.cli import main
from timelens_eval.leaderboard.validate import ValidateOptions, validate_file

pytestmark = pytest.mark.timeout(120)

DEEP = 100_000


def _deep(n: int = DEEP) -> str:
    return "[" * n + "]" * n


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(argv)
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err + captured.out
    return code, captured.err


def _one_line(code: int, err: str, *parts: str) -> None:
    assert code == 2, err
    assert err.startswith("error: ") and err.count("\n") == 1, err
    for part in parts:
        assert part in err, err


# -- predictions given to `score`: the three formats -----------------------------------------

DEEP_PREDICTIONS = {
    "timelens.json": '{"v>>>q>>>[1, 2]": {"timestamps": %s}}',
    "timelens.jsonl": '{"v>>>q>>>[1, 2]": {"answers": "1 - 2"}}\n{"v>>>r>>>[1, 2]": %s}\n',
    "moment.jsonl": '{"qid": 1, "pred_relevant_windows": [[1, 2, 0.9]]}\n{"qid": 2, "x": %s}\n',
    "own.jsonl": '{"sample_id": "a", "answer": "1 - 2"}\n{"sample_id": "b", "spans": %s}\n',
}


@pytest.mark.parametrize("name", sorted(DEEP_PREDICTIONS))
def test_nesting_100000_deep_in_every_prediction_format(tmp_path, capsys, name):
    path = tmp_path / name
    path.write_text(DEEP_PREDICTIONS[name] % _deep())
    argv = ["score", str(path), "--bootstrap", "0"]
    if name.startswith("moment"):
        argv += ["--format", "moment-detr"]
    code, err = _run(argv, capsys)
    if name.endswith(".jsonl"):
        _one_line(code, err, f"{path}:2: JSON nested deeper than 64 levels")
    else:  # a whole data file: the parser's recursion guard
        _one_line(code, err, f"{path}: JSON nested deeper than the parser allows")


def test_numbers_keys_and_bytes_in_prediction_files(tmp_path, capsys):
    jsonl = tmp_path / "p.jsonl"
    jsonl.write_text('{"sample_id": "a", "spans": [[1, %s]]}\n' % ("9" * 5000))
    code, err = _run(["score", str(jsonl)], capsys)
    _one_line(
        code, err, f"{jsonl}:1: a number of 5000 characters", "TIMELENS_EVAL_MAX_NUMBER_CHARS"
    )

    twice = tmp_path / "twice.jsonl"
    twice.write_text('{"sample_id": "a", "answer": "1 - 2", "answer": "0 - 9"}\n')
    code, err = _run(["score", str(twice)], capsys)
    _one_line(code, err, f"{twice}:1: key 'answer' given twice in one object")

    # non-UTF-8 on line 3 of a file whose format is detected from line 1
    latin = tmp_path / "latin.jsonl"
    latin.write_bytes(
        b'{"sample_id": "a", "answer": "1 - 2"}\n\n{"sample_id": "b", "answer": "caf\xe9"}\n'
    )
    code, err = _run(["score", str(latin)], capsys)
    _one_line(code, err, f"{latin}:3: not UTF-8 text")
    first = tmp_path / "first.jsonl"
    first.write_bytes(b'{"sample_id": "\xff"}\n')
    code, err = _run(["score", str(first)], capsys)
    _one_line(code, err, f"{first}:1: not UTF-8 text")


def test_a_key_given_twice_in_a_timelens_file_is_a_duplicate(tmp_path, capsys):
    path = tmp_path / "p.json"
    key = "v.mp4>>>a dog runs>>>[1.0, 5.0]"
    first = f'"{key}": {{"timestamps": [[1.0, 5.0]]}}'
    last = f'"{key}": {{"timestamps": [[7.0, 9.0]]}}'
    path.write_text(f'{{{first}, "w.mp4>>>q>>>[0, 2]": {{"answers": "0 - 2"}}, {last}}}')
    assert main(["score", str(path), "--json", "--bootstrap", "0"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["coverage"]["duplicates"] == 1
    assert result["n"] == 2 and result["mIoU"] == 50.0  # the last value is kept
    code, err = _run(["score", str(path), "--strict"], capsys)
    _one_line(code, err, "duplicate")


def test_file_and_line_size_limits(tmp_path, capsys, monkeypatch):
    path = tmp_path / "big.jsonl"
    path.write_text("".join(f'{{"sample_id": "s{i}", "answer": "1 - 2"}}\n' for i in range(40_000)))
    monkeypatch.setenv("TIMELENS_EVAL_MAX_FILE_MB", "1")
    code, err = _run(["score", str(path)], capsys)
    _one_line(code, err, f"{path}:", "larger than 1 MB", "TIMELENS_EVAL_MAX_FILE_MB")
    monkeypatch.delenv("TIMELENS_EVAL_MAX_FILE_MB")
    long = tmp_path / "long.jsonl"
    long.write_text('{"sample_id": "a", "answer": "%s"}\n' % ("1 " * 1_000_000))
    monkeypatch.setenv("TIMELENS_EVAL_MAX_LINE_MB", "1")
    code, err = _run(["score", str(long)], capsys)
    _one_line(code, err, f"{long}:1: line longer than 1 MB")
    monkeypatch.setenv("TIMELENS_EVAL_MAX_LINE_MB", "lots")
    code, err = _run(["score", str(long)], capsys)
    _one_line(code, err, "TIMELENS_EVAL_MAX_LINE_MB='lots': expected a number >= 1")


def test_special_files_are_never_read(tmp_path, capsys):
    fifo = tmp_path / "p.jsonl"
    os.mkfifo(fifo)  # opening it for reading would wait for a writer forever
    code, err = _run(["score", str(fifo), "--format", "jsonl"], capsys)
    assert code == 2 and str(fifo) in err
    code, err = _run(["score", "/dev/zero", "--format", "jsonl"], capsys)
    assert code == 2 and "/dev/zero" in err


# -- headers and per-sample files: validate and build ----------------------------------------


@pytest.fixture
def run_folder(tmp_path) -> Path:
    samples = synth_samples(4, per_video=2)
    preds = [(s.refined[0], s.refined[1]) for s in samples]
    write_run(tmp_path / "r", "Model", "open", "synthetic-refined", "refined", samples, preds)
    return tmp_path / "r"


def _header(folder: Path) -> Path:
    return next(p for p in folder.glob("*.json"))


def _validate(path: Path) -> list[str]:
    return validate_file(path, ValidateOptions(load_benchmarks=False)).reasons


def _build(results: Path, out: Path, capsys) -> tuple[int, str]:
    argv = ["leaderboard", "build", "--results", str(results), "--out", str(out)]
    return _run([*argv, "--bootstrap", "0"], capsys)


def test_hostile_headers_are_one_reason_in_validate_and_one_line_in_build(
    run_folder, tmp_path, capsys
):
    header = _header(run_folder)
    good = header.read_text()
    data = json.loads(good)
    cases = {
        "deep": (
            good.replace('"spec": {', f'"extra": {_deep()}, "spec": {{', 1),
            "JSON nested deeper than 64 levels",
        ),
        "digits": (
            good.replace('"n": ', '"n": %s, "m": ' % ("1" * 5000), 1),
            "a number of 5000 characters",
        ),
        "twice": (
            good.rstrip().rstrip("}") + f', "summary": {json.dumps(data["summary"])}}}',
            "key 'summary' given twice in one object",
        ),
        "latin": (None, "not UTF-8 text"),
    }
    for name, (text, reason) in cases.items():
        if text is None:
            header.write_bytes(good.encode().replace(b'"Model"', b'"Mod\xe9l"', 1))
        else:
            header.write_text(text)
        reasons = _validate(header)
        assert len(reasons) == 1 and reason in reasons[0], (name, reasons)
        assert reasons[0].startswith("line "), reasons
        code, err = _build(run_folder, tmp_path / "site", capsys)
        _one_line(code, err, str(header), reason)
    header.write_text(good)
    assert not any(r.startswith("line ") for r in _validate(header))


SAMPLES_FILES = [
    ("/dev/zero", "must name a file inside the header's folder"),
    ("/etc/passwd", "must name a file inside the header's folder"),
    ("/proc/self/environ", "must name a file inside the header's folder"),
    ("../outside.jsonl", "must name a file inside the header's folder"),
    ("sub/../../outside.jsonl", "must name a file inside the header's folder"),
    ("link.jsonl", "leads out of the header's folder"),
    ("fifo.jsonl", "not a regular file"),
    ("zero.jsonl", "leads out of the header's folder"),
    ("", "must name a file inside the header's folder"),
]


@pytest.mark.parametrize(("samples_file", "reason"), SAMPLES_FILES)
def test_samples_file_stays_inside_the_header_folder(
    run_folder, tmp_path, capsys, samples_file, reason
):
    header = _header(run_folder)
    (tmp_path / "outside.jsonl").write_text(
        (run_folder / "Model.synthetic-refined.samples.jsonl").read_text()
    )
    (run_folder / "link.jsonl").symlink_to("/etc/passwd")
    (run_folder / "zero.jsonl").symlink_to("/dev/zero")
    os.mkfifo(run_folder / "fifo.jsonl")
    data = json.loads(header.read_text())
    data["samples_file"] = samples_file
    header.write_text(json.dumps(data))
    reasons = _validate(header)
    assert any(r.startswith("per-sample file: ") and reason in r for r in reasons), reasons
    code, err = _build(run_folder, tmp_path / "site", capsys)
    _one_line(code, err, f"error: {run_folder}/", reason)  # the header, or the pipe itself


def test_hostile_per_sample_lines_are_one_reason(run_folder):
    header = _header(run_folder)
    samples = run_folder / "Model.synthetic-refined.samples.jsonl"
    lines = samples.read_text().splitlines()
    for bad, reason in (
        (f'{{"meta": {_deep()}}}', ":3: JSON nested deeper than 64 levels"),
        (f'{{"iou": {"1" * 5000}}}', ":3: a number of 5000 characters"),
        (lines[2][:-1] + ', "iou": 1.0}', ":3: key 'iou' given twice in one object"),
    ):
        samples.write_text("\n".join([*lines[:2], bad, *lines[3:]]) + "\n")
        reasons = _validate(header)
        assert any(r.startswith("per-sample file: ") and reason in r for r in reasons), reasons


def test_build_into_a_place_that_cannot_be_written(run_folder, tmp_path, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    code, err = _build(run_folder, blocker / "site", capsys)
    _one_line(code, err, f"cannot write {blocker}", "a part of the path is a file, not a folder")
