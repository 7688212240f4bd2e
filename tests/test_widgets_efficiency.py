"""Explorers of the Efficiency part: the static grid, the live widget, the theorem's
properties in the figure, and the bad-input sweep of the factories."""

from __future__ import annotations

import functools
import itertools
import math

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest

from ptheory import widgets

from badinput import Case, case_params, check_case

DEGREES = (1, 2, 3, 4, 5, 6)
SIZES = (2**6, 2**8, 2**11, 2**14)


@functools.cache
def error_explorer():
    return widgets.efficiency_explorer()


@functools.cache
def error_grid():
    return error_explorer().static_grid()


@functools.cache
def retrieval_explorer():
    return widgets.retrieval_explorer()


@functools.cache
def retrieval_grid():
    return retrieval_explorer().static_grid()


def _visible(fig):
    return [ax for ax in fig.axes if ax.get_visible()]


def _measured(ax):
    (line,) = [ln for ln in ax.get_lines() if ln.get_label() == "measured"]
    return line.get_xdata(), line.get_ydata()


def _median(ax):
    (line,) = [ln for ln in ax.get_lines() if ln.get_label() == "median"]
    return np.asarray(line.get_xdata()), np.asarray(line.get_ydata())


# ------------------------------------------------------------- efficiency_explorer
def test_error_grid_has_one_panel_per_degree():
    axes = _visible(error_grid())
    assert [ax.get_title() for ax in axes] == [f"degree $g$ = {g}" for g in DEGREES]
    assert error_explorer().values == tuple(float(g) for g in DEGREES)
    for ax in axes:
        assert ax.get_xlabel() and ax.get_ylabel() and ax.get_yscale() == "log"


def test_error_panels_differ_and_degree_buys_accuracy():
    curves = [np.asarray(_measured(ax)[1]) for ax in _visible(error_grid())]
    for a, b in itertools.pairwise(curves):
        assert not np.array_equal(a, b)
        assert b[0] < 0.1 * a[0]  # at small B one more degree gains an order of magnitude


def test_error_stays_under_proved_bound():
    # The theorem: the measured error never exceeds the proved bound where it is drawn.
    for ax in _visible(error_grid()):
        x, measured = _measured(ax)
        (proved,) = [ln for ln in ax.get_lines() if ln.get_label() == "proved bound"]
        px, py = proved.get_xdata(), proved.get_ydata()
        assert len(px) >= 2
        lookup = dict(zip(np.round(x, 12), measured, strict=True))
        assert all(lookup[round(b, 12)] <= p + 1e-13 for b, p in zip(px, py, strict=True))
        # past sqrt(ln n) the error is of the order of the values, for every degree
        far = measured[np.asarray(x) > 1.5 * math.sqrt(math.log(1024))]
        assert far.min() > 0.1


def test_error_widget_moves_with_the_slider():
    explorer = error_explorer()
    box = explorer.widget()
    assert box.children[1].value == 1.0
    box.children[1].value = 4.0
    assert box.children[2].value == explorer.png(4.0)
    assert box.children[2].value != explorer.png(1.0)


# ------------------------------------------------------------- retrieval_explorer
def test_retrieval_grid_has_one_panel_per_size():
    axes = _visible(retrieval_grid())
    assert [ax.get_title() for ax in axes] == [f"$n$ = {n}" for n in SIZES]
    for ax in axes:
        assert ax.get_xlabel() and ax.get_ylabel()


def test_retrieval_transition_at_one_and_sharpening():
    medians = [_median(ax) for ax in _visible(retrieval_grid())]
    for (_, a), (_, b) in itertools.pairwise(medians):
        assert not np.array_equal(a, b)
    for x, y in medians:  # the proposition: averaging below 1, retrieval above
        assert y[np.isclose(x, 0.5)][0] < 0.05 and y[np.isclose(x, 1.5)][0] > 0.95
        assert 0.1 < y[np.isclose(x, 1.0)][0] < 0.9
    below = [y[np.isclose(x, 0.75)][0] for x, y in medians]
    assert all(a > b for a, b in itertools.pairwise(below))  # sharper with n


def test_retrieval_widget_moves_with_the_slider():
    explorer = retrieval_explorer()
    box = explorer.widget()
    box.children[1].value = float(2**11)
    assert box.children[2].value == explorer.png(float(2**11))
    assert box.children[2].value != explorer.png(float(2**6))


# ------------------------------------------------------------------ bad inputs
E, R = widgets.efficiency_explorer, widgets.retrieval_explorer

CASES = [
    Case("efficiency_explorer", "degrees string", lambda: E("123"), TypeError, "degrees"),
    Case("efficiency_explorer", "degrees one", lambda: E((2,)), ValueError, "degrees"),
    Case("efficiency_explorer", "degrees repeated", lambda: E((2, 2)), ValueError, "degrees"),
    Case("efficiency_explorer", "degree float", lambda: E((1, 2.5)), TypeError, "degrees"),
    Case("efficiency_explorer", "degree negative", lambda: E((-1, 2)), ValueError, "degrees"),
    Case("efficiency_explorer", "n one", lambda: E(n=1), ValueError, "n"),
    Case("efficiency_explorer", "n float", lambda: E(n=10.0), TypeError, "n"),
    Case("efficiency_explorer", "d zero", lambda: E(d=0), ValueError, "d"),
    Case("efficiency_explorer", "max_bound zero", lambda: E(max_bound=0), ValueError, "max_bound"),
    Case(
        "efficiency_explorer",
        "max_bound nan",
        lambda: E(max_bound=math.nan),
        ValueError,
        "max_bound",
    ),
    Case("efficiency_explorer", "method", lambda: E(method="pade"), ValueError, "method"),
    Case("efficiency_explorer", "seed negative", lambda: E(seed=-1), ValueError, "seed"),
    Case("retrieval_explorer", "sizes int", lambda: R(64), TypeError, "sizes"),
    Case("retrieval_explorer", "sizes one", lambda: R((64,)), ValueError, "sizes"),
    Case("retrieval_explorer", "size one", lambda: R((1, 64)), ValueError, "sizes"),
    Case("retrieval_explorer", "size huge", lambda: R((64, 2**20)), ValueError, "sizes"),
    Case("retrieval_explorer", "d zero", lambda: R(d=0), ValueError, "d"),
    Case("retrieval_explorer", "trials zero", lambda: R(trials=0), ValueError, "trials"),
    Case("retrieval_explorer", "trials bool", lambda: R(trials=True), TypeError, "trials"),
    Case("retrieval_explorer", "seed float", lambda: R(seed=0.5), TypeError, "seed"),
]


@pytest.mark.parametrize("case", case_params(CASES))
def test_bad_input(case):
    check_case(case)


def test_explorer_values_are_validated():
    with pytest.raises(ValueError, match=r"^value"):
        error_explorer().figure(7)
