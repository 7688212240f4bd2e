"""The explorer framework: one drawing function behind the static grid and the live widget."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from ptheory.widgets import Explorer

from badinput import Case, case_params, check_case


def _draw(value: float, ax) -> None:
    x = np.linspace(0.0, 1.0, 20)
    ax.plot(x, x**value)
    ax.set_xlabel("x")
    ax.set_ylabel("x^k")


EXPLORER = Explorer("Powers of x", "$k$", (1, 2, 3, 4, 5), _draw, initial=1)


def test_static_grid_has_one_panel_per_value() -> None:
    fig = EXPLORER.static_grid()
    visible = [ax for ax in fig.axes if ax.get_visible()]
    assert [ax.get_title() for ax in visible] == [f"$k$ = {k}" for k in (1, 2, 3, 4, 5)]
    assert len(fig.axes) == 6  # a 3 x 2 grid with the last panel hidden
    curves = [ax.lines[0].get_ydata() for ax in visible]
    assert all(not np.allclose(a, b) for a, b in itertools.pairwise(curves))
    assert fig._suptitle.get_text() == "Powers of x"


def test_static_grid_subset_and_columns() -> None:
    fig = EXPLORER.static_grid([2, 4], columns=1)
    assert [ax.get_title() for ax in fig.axes] == ["$k$ = 2", "$k$ = 4"]


def test_live_widget_redraws_on_the_slider() -> None:
    box = EXPLORER.widget()
    slider, image = box.children[1], box.children[2]
    assert slider.value == 2.0 and image.value == EXPLORER.png(2.0)
    slider.value = 5.0
    assert image.value == EXPLORER.png(5.0) != EXPLORER.png(2.0)


def test_figure_is_the_grid_panel() -> None:
    fig = EXPLORER.figure(3)
    (ax,) = fig.axes
    np.testing.assert_allclose(ax.lines[0].get_ydata(), np.linspace(0, 1, 20) ** 3)


def _explorer(**kw):
    args = {"name": "n", "parameter": "p", "values": (1, 2), "draw": _draw} | kw
    return Explorer(**args)


CASES = [
    Case("Explorer", "empty name", lambda: _explorer(name=""), TypeError, "name"),
    Case("Explorer", "parameter not str", lambda: _explorer(parameter=3), TypeError, "parameter"),
    Case("Explorer", "draw not callable", lambda: _explorer(draw=3), TypeError, "draw"),
    Case("Explorer", "one value", lambda: _explorer(values=(1,)), ValueError, "values"),
    Case("Explorer", "nan value", lambda: _explorer(values=(1, np.nan)), ValueError, "values"),
    Case("Explorer", "repeated value", lambda: _explorer(values=(1, 1)), ValueError, "values"),
    Case("Explorer", "initial too large", lambda: _explorer(initial=2), ValueError, "initial"),
    Case("Explorer", "initial float", lambda: _explorer(initial=0.5), TypeError, "initial"),
    Case(
        "Explorer.figure", "value off the slider", lambda: EXPLORER.figure(7), ValueError, "value"
    ),
    Case("Explorer.figure", "value str", lambda: EXPLORER.figure("2"), TypeError, "value"),
    Case(
        "Explorer.static_grid",
        "columns 0",
        lambda: EXPLORER.static_grid(columns=0),
        ValueError,
        "columns",
    ),
    Case(
        "Explorer.static_grid",
        "empty values",
        lambda: EXPLORER.static_grid([]),
        ValueError,
        "values",
    ),
]


@pytest.mark.parametrize("case", case_params(CASES))
def test_bad_input_names_the_argument(case: Case) -> None:
    check_case(case)
