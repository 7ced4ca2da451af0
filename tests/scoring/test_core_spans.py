"""Spans and IoU: scalar, vectorised, degenerate and multi-window cases."""

import numpy as np
import pytest

from timelens_eval.spans import Span, best_window_iou, iou_arrays, temporal_iou, validate_span


@pytest.mark.parametrize(
    ("pred", "gt", "expected"),
    [
        ((0, 10), (0, 10), 1.0),
        ((0, 10), (5, 15), 5 / 15),
        ((0, 5), (5, 10), 0.0),  # touching
        ((0, 4), (6, 10), 0.0),  # disjoint
        ((2, 3), (0, 10), 0.1),  # inside
        ((10, 2), (0, 10), 0.0),  # reversed
        ((5, 5), (0, 10), 0.0),  # zero-length prediction
        ((5, 5), (5, 5), 0.0),  # zero-length GT meets identical prediction: no ZeroDivisionError
        ((4, 8), (5, 5), 0.0),  # zero-length GT inside the prediction
        ((0, 10), (0, 5), 0.5),  # exactly on a threshold
    ],
)
def test_temporal_iou_table(pred, gt, expected):
    assert temporal_iou(pred, gt) == pytest.approx(expected, abs=1e-12)


def test_iou_is_symmetric_for_valid_spans():
    rng = np.random.default_rng(1)
    for _ in range(200):
        a = np.sort(rng.uniform(0, 30, 2))
        b = np.sort(rng.uniform(0, 30, 2))
        assert temporal_iou(a, b) == pytest.approx(temporal_iou(b, a))


def test_vectorised_matches_scalar_including_degenerate():
    rng = np.random.default_rng(0)
    n = 5000
    ps, pe = rng.integers(0, 20, n).astype(float), rng.integers(0, 20, n).astype(float)
    gs, ge = rng.integers(0, 20, n).astype(float), rng.integers(0, 20, n).astype(float)
    got = iou_arrays(ps, pe, gs, ge)
    want = [temporal_iou((a, b), (c, d)) for a, b, c, d in zip(ps, pe, gs, ge, strict=True)]
    np.testing.assert_allclose(got, want, rtol=0, atol=0)
    assert np.isfinite(got).all()


def test_best_window_is_the_best_overlap():
    windows = [(0, 2), (10, 20), (30, 40)]
    assert best_window_iou((12, 20), windows) == pytest.approx(0.8)
    assert best_window_iou((12, 20), []) == 0.0


def test_validate_span_rejects_bad_values():
    assert validate_span(1, 2.5) == Span(1.0, 2.5)
    assert validate_span(3, 3) == Span(3.0, 3.0)
    for bad in [(float("nan"), 1), (0, float("inf")), (-1, 2), (5, 2), ("1", 2), (True, 2)]:
        with pytest.raises(ValueError):
            validate_span(*bad)


@pytest.mark.parametrize(
    ("start", "end", "message"),
    [
        ("1", 2, "start must be a number, got str '1'"),
        (1, None, "end must be a number, got NoneType None"),
        (True, 2, "start must be a number, got bool True"),
        (float("nan"), 2, "start must be finite, got nan"),
        (1, float("inf"), "end must be finite, got inf"),
        (-0.5, 2, "start must be >= 0, got -0.5"),
        (5, 4, "start 5 is after end 4"),
    ],
)
def test_validate_span_names_the_bad_value(start, end, message):
    with pytest.raises(ValueError) as info:
        validate_span(start, end)
    assert str(info.value) == message


def test_validate_span_accepts_a_span_from_zero():
    assert validate_span(0, 0.5) == Span(0.0, 0.5)
    assert validate_span(0.25, 0.75) == Span(0.25, 0.75)


@pytest.mark.parametrize("array_at", range(4))
def test_vectorised_iou_broadcasts_each_argument(array_at):
    args = [0.0, 10.0, 0.0, 10.0]
    values = np.array([[0.0, 5.0, 2.0], [10.0, 10.0, 4.0], [0.0, 0.0, 0.0], [10.0, 10.0, 10.0]])
    args[array_at] = values[array_at]
    got = iou_arrays(*args)
    expected = [temporal_iou((p0, p1), (g0, g1)) for p0, p1, g0, g1 in np.broadcast(*args)]
    assert got.shape == (3,)
    np.testing.assert_allclose(got, expected)
