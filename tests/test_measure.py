"""loglog_slope recovers known exponents and refuses what a log-log fit cannot take."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ptheory.measure import loglog_slope


@pytest.mark.parametrize("k", [-2.0, -1.0, 0.5, 1.0, 2.0])
def test_recovers_the_exponent_of_a_power_law(k):
    x = np.array([1.0, 2.0, 4.0, 8.0, 16.0])
    assert loglog_slope(x, 3.0 * x**k) == pytest.approx(k, abs=1e-12)
    assert loglog_slope(torch.tensor(x), torch.tensor(3.0 * x**k)) == pytest.approx(k, abs=1e-12)
    assert loglog_slope(list(x), list(3.0 * x**k)) == pytest.approx(k, abs=1e-12)


def test_least_squares_through_noisy_points():
    x = np.array([1.0, 10.0, 100.0])
    y = np.array([1.0, 12.0, 100.0])  # log y: 0, log 12, log 100
    expected = np.polyfit(np.log(x), np.log(y), 1)[0]
    assert loglog_slope(x, y) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("x", "y", "error", "name"),
    [
        ([1.0, 2.0], [1.0, 0.0], ValueError, "y"),
        ([1.0, -2.0], [1.0, 2.0], ValueError, "x"),
        ([1.0, 2.0], [1.0, float("nan")], ValueError, "y"),
        ([[1.0, 2.0]], [1.0, 2.0], ValueError, "x"),
        ([1.0, 2.0, 3.0], [1.0, 2.0], ValueError, "x and y"),
        ([1.0], [1.0], ValueError, "x"),
        ([2.0, 2.0], [1.0, 3.0], ValueError, "x"),
        (["a", "b"], [1.0, 2.0], TypeError, "x"),
    ],
)
def test_bad_input_names_the_argument(x, y, error, name):
    with pytest.raises(error, match=f"^{name}"):
        loglog_slope(x, y)
