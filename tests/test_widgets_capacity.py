"""The Capacity explorer: static grid, live widget, the ray bound under every run, bad inputs."""

from __future__ import annotations

import functools
import itertools

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest

from ptheory import widgets
from ptheory.widgets.capacity import RADII

from badinput import Case, case_params, check_case

SMALL = dict(lengths=(1, 4), steps=20, restarts=2)


@functools.cache
def explorer():
    return widgets.ray_bound_explorer(**SMALL)


def visible_axes(fig):
    return [ax for ax in fig.axes if ax.get_visible()]


def test_static_grid_has_one_titled_panel_per_radius():
    fig = explorer().static_grid()
    axes = visible_axes(fig)
    assert len(axes) == len(RADII)
    assert [ax.get_title() for ax in axes] == [rf"$\varrho$ = {r:g}" for r in RADII]
    assert all("tokens" in ax.get_xlabel() and ax.get_ylabel() for ax in axes)
    bounds = [ax.get_lines()[1].get_ydata()[0] for ax in axes]  # the dashed ray bound
    assert all(b2 > b1 for b1, b2 in itertools.pairwise(bounds))  # the knob does something
    best = [tuple(ax.get_lines()[0].get_ydata()) for ax in axes]
    assert len(set(best)) == len(best)


def test_every_run_stays_above_the_ray_bound():
    # The theorem: no prompt of any length goes below B; the dots are every run's loss.
    for ax in visible_axes(explorer().static_grid()):
        bound = ax.get_lines()[1].get_ydata()[0]
        no_prompt = ax.get_lines()[2].get_ydata()[0]
        dots = ax.collections[0].get_offsets()[:, 1]
        assert 0 < bound < no_prompt
        assert np.all(dots >= bound)


def test_live_widget_redraws_when_the_slider_moves():
    e = explorer()
    box = e.widget()
    slider, image = box.children[1], box.children[2]
    assert slider.value == 1.0  # starts at r = 1
    before = image.value
    slider.value = 4.0
    assert image.value == e.png(4.0)
    assert image.value != before


def test_default_explorer_starts_at_radius_one():
    e = widgets.ray_bound_explorer()
    assert e.values == RADII and e.values[e.initial] == 1.0


CASES = [
    Case(
        "ray_bound_explorer",
        "radii string",
        lambda: widgets.ray_bound_explorer("1, 2"),
        TypeError,
        "radii",
    ),
    Case(
        "ray_bound_explorer",
        "radii one",
        lambda: widgets.ray_bound_explorer([1.0]),
        ValueError,
        "radii",
    ),
    Case(
        "ray_bound_explorer",
        "radii negative",
        lambda: widgets.ray_bound_explorer([-1.0, 1.0]),
        ValueError,
        "radii",
    ),
    Case(
        "ray_bound_explorer",
        "radii repeated",
        lambda: widgets.ray_bound_explorer([1.0, 1.0]),
        ValueError,
        "radii",
    ),
    Case(
        "ray_bound_explorer",
        "radii text entry",
        lambda: widgets.ray_bound_explorer([1.0, "2"]),
        TypeError,
        "radii",
    ),
    Case(
        "ray_bound_explorer",
        "lengths float",
        lambda: widgets.ray_bound_explorer(lengths=[1.5, 2]),
        TypeError,
        "lengths",
    ),
    Case(
        "ray_bound_explorer",
        "lengths zero",
        lambda: widgets.ray_bound_explorer(lengths=[0, 2]),
        ValueError,
        "lengths",
    ),
    Case(
        "ray_bound_explorer",
        "lengths empty",
        lambda: widgets.ray_bound_explorer(lengths=[]),
        ValueError,
        "lengths",
    ),
    Case(
        "ray_bound_explorer",
        "lengths int",
        lambda: widgets.ray_bound_explorer(lengths=4),
        TypeError,
        "lengths",
    ),
    Case(
        "ray_bound_explorer",
        "steps zero",
        lambda: widgets.ray_bound_explorer(steps=0),
        ValueError,
        "steps",
    ),
    Case(
        "ray_bound_explorer",
        "restarts float",
        lambda: widgets.ray_bound_explorer(restarts=2.0),
        TypeError,
        "restarts",
    ),
    Case(
        "ray_bound_explorer",
        "seed negative",
        lambda: widgets.ray_bound_explorer(seed=-1),
        ValueError,
        "seed",
    ),
]


@pytest.mark.parametrize("case", case_params(CASES))
def test_bad_inputs(case):
    check_case(case)
