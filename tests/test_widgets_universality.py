"""Explorer of the Universality part: the static grid, the live widget, the theorem's
bound in the figure, and the bad-input sweep of the factory."""

from __future__ import annotations

import functools
import itertools

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest

from ptheory import widgets

from badinput import Case, case_params, check_case

LIPSCHITZ = (0.5, 1.0, 2.0, 4.0, 8.0)
BUILT = (1 / 2, 1 / 3, 1 / 4)  # transformers built and run
FINE = (1 / 8, 1 / 16, 1 / 32)  # the quantized target alone


@functools.cache
def explorer():
    return widgets.universality_explorer()


@functools.cache
def grid():
    return explorer().static_grid()


def _visible(fig):
    return [ax for ax in fig.axes if ax.get_visible()]


def _curves(ax):
    """``{colour: (errors, bounds, fine errors)}``: the built transformers' error line, its
    dashed bound, and the dotted error of the quantized target alone, per target."""
    out: dict = {}
    for line in ax.get_lines():
        x = np.asarray(line.get_xdata(), dtype=float)
        if x.size != 3:
            continue  # legend handles
        key = tuple(np.round(matplotlib.colors.to_rgb(line.get_color()), 6))
        style = line.get_linestyle()
        slot = {"-": 0, "--": 1, ":": 2}[style]
        assert np.allclose(x, BUILT if slot < 2 else FINE)
        out.setdefault(key, [None, None, None])[slot] = np.asarray(line.get_ydata(), dtype=float)
    return {k: tuple(v) for k, v in out.items()}


def test_grid_has_one_panel_per_lipschitz_constant():
    fig = grid()
    axes = _visible(fig)
    assert [ax.get_title() for ax in axes] == [f"$C$ = {C:g}" for C in LIPSCHITZ]
    assert explorer().values == LIPSCHITZ
    for ax in axes:
        assert "delta" in ax.get_xlabel() and ax.get_ylabel()
        assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
        curves = _curves(ax)
        assert len(curves) == 2 and all(x is not None for c in curves.values() for x in c)
        assert ax.get_legend() is None  # the panels share the figure's legend
    (legend,) = fig.legends
    labels = sorted(t.get_text() for t in legend.get_texts())
    assert labels[2:] == ["sine: transformer", "triangle: transformer"]
    assert "no model" in labels[0]  # the quantized target alone is labelled as such
    assert labels[1] == "bound of the theorem"


def test_panels_for_a_page_share_one_legend():
    fig = widgets.universality_panels((1.0, 2.0, 4.0), n_samples=64)
    axes = _visible(fig)
    assert [ax.get_title() for ax in axes] == ["$C$ = 1", "$C$ = 2", "$C$ = 4"]
    assert all(ax.get_legend() is None for ax in axes)
    (legend,) = fig.legends
    texts = [t.get_text() for t in legend.get_texts()]
    assert "sine: transformer" in texts and any("bound" in t for t in texts)
    assert all(len(_curves(ax)) == 2 for ax in axes)


def test_panels_differ_and_larger_constants_cost_more():
    panels = [_curves(ax) for ax in _visible(grid())]
    for a, b in itertools.pairwise(panels):
        for colour in a:
            assert not np.array_equal(a[colour][0], b[colour][0])  # errors move with C
            assert np.all(b[colour][1] > a[colour][1])  # and the bound rises
    # on the finest grid the error grows with C, for both targets
    first, last = panels[0], panels[-1]
    for colour in first:
        assert last[colour][2][-1] > 3 * first[colour][2][-1]


def test_errors_stay_under_the_bound():
    # The theorem: every measured error of a built transformer is at most its bound, with
    # Monte Carlo slack.
    for ax in _visible(grid()):
        for errors, bounds, _ in _curves(ax).values():
            assert np.all(errors <= bounds + 0.01), (errors, bounds)


def test_widget_moves_with_the_slider():
    exp = explorer()
    box = exp.widget()
    assert box.children[1].value == LIPSCHITZ[exp.initial]
    box.children[1].value = 4.0
    assert box.children[2].value == exp.png(4.0)
    assert box.children[2].value != exp.png(0.5)


def test_other_arguments():
    small = widgets.universality_explorer(
        (1, 3), deltas=(1 / 4, 1 / 2), fine_deltas=(), n_samples=64, seed=1
    )
    assert small.values == (1.0, 3.0)
    fig = small.static_grid()
    assert len(_visible(fig)) == 2


CASES = [
    Case(
        "universality_explorer",
        "lipschitz string",
        lambda: widgets.universality_explorer("12"),
        TypeError,
        "lipschitz",
    ),
    Case(
        "universality_explorer",
        "lipschitz one value",
        lambda: widgets.universality_explorer((1.0,)),
        ValueError,
        "lipschitz",
    ),
    Case(
        "universality_explorer",
        "lipschitz repeated",
        lambda: widgets.universality_explorer((1.0, 1)),
        ValueError,
        "lipschitz",
    ),
    Case(
        "universality_explorer",
        "lipschitz zero",
        lambda: widgets.universality_explorer((0.0, 1.0)),
        ValueError,
        "lipschitz",
    ),
    Case(
        "universality_explorer",
        "lipschitz NaN",
        lambda: widgets.universality_explorer((float("nan"), 1.0)),
        ValueError,
        "lipschitz",
    ),
    Case(
        "universality_explorer",
        "lipschitz not numbers",
        lambda: widgets.universality_explorer(("a", "b")),
        TypeError,
        "lipschitz",
    ),
    Case(
        "universality_explorer",
        "lipschitz a number",
        lambda: widgets.universality_explorer(2.0),
        TypeError,
        "lipschitz",
    ),
    Case(
        "universality_explorer",
        "deltas not 1/n",
        lambda: widgets.universality_explorer(deltas=(0.3, 0.5)),
        ValueError,
        "deltas",
    ),
    Case(
        "universality_explorer",
        "deltas too coarse",
        lambda: widgets.universality_explorer(deltas=(1.0, 0.5)),
        ValueError,
        "deltas",
    ),
    Case(
        "universality_explorer",
        "deltas one value",
        lambda: widgets.universality_explorer(deltas=(0.5,)),
        ValueError,
        "deltas",
    ),
    Case(
        "universality_explorer",
        "deltas repeated",
        lambda: widgets.universality_explorer(deltas=(0.5, 0.5)),
        ValueError,
        "deltas",
    ),
    Case(
        "universality_explorer",
        "deltas string",
        lambda: widgets.universality_explorer(deltas="1/2"),
        TypeError,
        "deltas",
    ),
    Case(
        "universality_explorer",
        "n_samples float",
        lambda: widgets.universality_explorer(n_samples=100.0),
        TypeError,
        "n_samples",
    ),
    Case(
        "universality_explorer",
        "n_samples small",
        lambda: widgets.universality_explorer(n_samples=8),
        ValueError,
        "n_samples",
    ),
    Case(
        "universality_explorer",
        "seed negative",
        lambda: widgets.universality_explorer(seed=-1),
        ValueError,
        "seed",
    ),
    Case(
        "universality_explorer",
        "fine_deltas string",
        lambda: widgets.universality_explorer(fine_deltas="1/8"),
        TypeError,
        "fine_deltas",
    ),
]


CASES.append(
    Case(
        "universality_panels",
        "one value",
        lambda: widgets.universality_panels((1.0,)),
        ValueError,
        "lipschitz",
    )
)


@pytest.mark.parametrize("case", case_params(CASES))
def test_bad_inputs(case):
    check_case(case)
