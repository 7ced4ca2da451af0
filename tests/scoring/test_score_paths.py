"""The vectorised TimeLens column path and the general reader agree, sample by sample."""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path

import numpy as np
import pytest
from repo_paths import FIXTURES, ROOT

from timelens_eval.predictions import read_predictions, read_timelens_columns
from timelens_eval.scoring import score_file, score_predictions, score_timelens_columns

sys.path.insert(0, str(ROOT / "benchmarks"))


CORPUS = FIXTURES / "timelens_tricky_answers.json"


def _compare(path: Path) -> None:
    cols = read_timelens_columns(path)
    assert cols is not None, "expected the column path to accept this file"
    fast = score_timelens_columns(cols, bootstrap=0)
    slow = score_predictions(read_predictions(path), bootstrap=0)
    assert fast.sample_ids == slow.sample_ids
    np.testing.assert_array_equal(fast.ious, slow.ious)
    assert fast.statuses == slow.statuses
    assert fast.summary == slow.summary


def _as_lists(data: dict) -> dict:
    """Python tuple literals in the GT part of keys written as JSON lists."""
    out = {}
    for key, value in data.items():
        head, _, gt = key.rpartition(">>>")
        out[f"{head}>>>{gt.replace('(', '[').replace(')', ']')}"] = value
    return out


def test_corpus_both_paths(tmp_path: Path) -> None:
    path = tmp_path / "corpus.json"
    path.write_text(json.dumps(_as_lists(json.loads(CORPUS.read_text(encoding="utf-8")))))
    _compare(path)


def test_generated_file_both_paths(tmp_path: Path) -> None:
    import bench_score

    path = tmp_path / "gen.json"
    bench_score.generate(path, 3000, seed=3, answers_only=0.2)
    _compare(path)


def test_generated_raw_file_both_paths(tmp_path: Path) -> None:
    import bench_score

    path = tmp_path / "raw.json"
    bench_score.generate_raw(path, 3000, seed=4)
    _compare(path)


@pytest.mark.parametrize(
    "value",
    [
        {"v.mp4>>>q>>>(1.0, 2.0)": {"answers": "1 - 2"}},  # Python tuple literal
        {"v.mp4>>>q>>>[1, 2]": {"timestamps": [[1, 2, 0.5]]}},  # extra item
        {"v.mp4>>>q>>>[1, 2]": {"timestamps": [[1, True]]}},  # bad type: full reader errs
        {"v.mp4>>>q>>>[1, 2]>>>x": {"answers": "1 - 2"}},  # four parts
    ],
)
def test_unusual_files_fall_back_to_the_full_reader(tmp_path: Path, value: dict) -> None:
    path = tmp_path / "p.json"
    path.write_text(json.dumps(value))
    assert read_timelens_columns(path) is None


def test_score_file_uses_either_path_with_same_numbers(tmp_path: Path) -> None:
    rng = random.Random(0)
    data = {
        f"v{i % 5}.mp4>>>q{i}>>>({i}.0, {i + 3}.5)": {
            "answers": f"{i + rng.random():.1f} - {i + 3}"
        }
        for i in range(40)
    }
    path = tmp_path / "tuples.json"
    path.write_text(json.dumps(data))
    assert read_timelens_columns(path) is None
    via_file = score_file(path, bootstrap=0)
    path2 = tmp_path / "lists.json"
    path2.write_text(
        json.dumps({k.replace("(", "[").replace(")", "]"): v for k, v in data.items()})
    )
    assert read_timelens_columns(path2) is not None
    assert score_file(path2, bootstrap=0).summary == via_file.summary
