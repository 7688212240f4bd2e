"""Tests of ptheory.plotting on data from the segment lemma, d = 2."""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")

import matplotlib as mpl
import numpy as np
import pytest
import torch
from matplotlib.figure import Figure

from ptheory import plotting
from ptheory.distance import uniform_inputs
from ptheory.model import Attention
from ptheory.plotting import (
    PALETTE,
    new_figure,
    plot_segments,
    plot_weight_by_length,
    use_style,
)
from ptheory.segments import prompt_split, prompt_weight_by_length

F64 = torch.float64


@pytest.fixture(autouse=True)
def _restore_rc():
    with mpl.rc_context():
        yield


def _split(K: int = 3, N: int = 4):
    attn = Attention(2, seed=1, scale="none")
    g = torch.Generator().manual_seed(0)
    P = torch.randn(K, 1, 2, 3, generator=g, dtype=F64)
    X = uniform_inputs(N, 2, 5, seed=1).unsqueeze(0)
    with torch.no_grad():
        return prompt_split(attn, P, X, queries=X[..., -1:])


def _renders(fig: Figure) -> None:
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    assert buf.getvalue().startswith(b"\x89PNG")


def test_plot_segments_figure():
    K, N = 3, 4
    split = _split(K, N)
    assert split.output.shape == (K, N, 2, 1)
    fig = plot_segments(split)
    assert isinstance(fig, Figure)
    (ax,) = fig.axes
    assert ax.get_xlabel() and ax.get_ylabel()
    # K*N segments, K*N outputs, K stars, N squares
    assert len(ax.lines) == 2 * K * N + K + N
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert len(labels) == N + 1 + N  # outputs per input, the star, the b_i
    # the dots are the outputs of the split
    dots = [line for line in ax.lines if line.get_marker() == "o"]
    xy = np.array([[line.get_xdata()[0], line.get_ydata()[0]] for line in dots])
    expected = split.output[..., 0].reshape(-1, 2).numpy()
    np.testing.assert_allclose(xy, expected, rtol=0, atol=1e-15)
    _renders(fig)


def test_plot_segments_on_given_axes():
    fig, axes = new_figure(2)
    assert isinstance(fig, Figure) and axes.shape == (2,)
    out = plot_segments(_split(1, 2), ax=axes[1])
    assert out is fig
    assert len(axes[1].lines) == 2 * 2 + 1 + 2 and len(axes[0].lines) == 0


def test_plot_weight_by_length_figure():
    lengths = [1, 2, 4, 8, 16]
    X = uniform_inputs(3, 2, 4, seed=2)
    weights = torch.stack(
        [
            prompt_weight_by_length(Attention(2, seed=s, scale=sc), X, lengths, n_prompts=16)
            for s, sc in ((1, "1/d"), (2, "none"))
        ]
    )
    assert weights.shape == (2, 5, 16 * 3 * 4)
    labels = ["scale 1/d", "no scale"]
    fig = plot_weight_by_length(lengths, weights, labels)
    assert isinstance(fig, Figure)
    (ax,) = fig.axes
    assert ax.get_xlabel() and ax.get_ylabel()
    assert ax.get_xscale() == "log"
    assert ax.get_ylim() == (0.0, 1.0)
    assert [t.get_text() for t in ax.get_legend().get_texts()] == labels
    medians = [line for line in ax.lines if line.get_label() in labels]
    assert len(medians) == 2
    np.testing.assert_allclose(medians[0].get_xdata(), lengths)
    np.testing.assert_allclose(
        medians[0].get_ydata(), np.quantile(weights[0].numpy(), 0.5, axis=-1)
    )
    _renders(fig)
    # a NumPy array works too, and a given axis is used
    fig2, axes = new_figure()
    assert plot_weight_by_length(lengths, weights.numpy(), labels, ax=axes[0]) is fig2


def test_use_style_is_idempotent():
    use_style()
    first = dict(mpl.rcParams)
    use_style()
    assert dict(mpl.rcParams) == first
    assert mpl.rcParams["svg.hashsalt"] == "ptheory"
    assert mpl.rcParams["axes.spines.top"] is False
    assert mpl.rcParams["figure.constrained_layout.use"] is True


def test_new_figure_layout():
    fig, axes = new_figure(3, 2, width=7.0, height=3.0)
    assert axes.shape == (6,)
    np.testing.assert_allclose(fig.get_size_inches(), [7.0, 3.0])
    assert len(PALETTE) >= 5


def test_plot_weight_by_length_input_share_uses_log_axes_and_a_guide():
    attn = Attention(2, seed=0, scale="none")
    X = uniform_inputs(2, 2, 2, seed=0)
    lengths = [1, 2, 4, 8]
    share = prompt_weight_by_length(attn, X, lengths, n_prompts=8, seed=1, input_share=True)
    fig = plot_weight_by_length(lengths, share[None], ["one setting"], input_share=True)
    ax = fig.axes[0]
    assert ax.get_yscale() == "log" and ax.get_xscale() == "log"
    assert "1 - \\lambda" in ax.get_ylabel()
    guide = [line for line in ax.get_lines() if line.get_linestyle() == ":"]
    assert len(guide) == 1
    x, y = guide[0].get_data()
    assert np.allclose(np.asarray(y) * np.asarray(x), y[0] * x[0])  # slope -1


def test_axes_or_new_returns_the_given_axes_or_a_fresh_panel():
    fig, axes = plotting.new_figure(ncols=2)
    assert plotting.axes_or_new(axes[1]) is axes[1]
    fresh = plotting.axes_or_new(None, width=3.0, height=2.0)
    assert fresh.figure is not fig
    assert tuple(fresh.figure.get_size_inches()) == (3.0, 2.0)


def test_shared_legend_lists_each_label_once_below_the_panels():
    fig, axes = plotting.new_figure(ncols=2)
    for i, ax in enumerate(axes):
        ax.plot([0, 1], [0, 1], label="both")
        ax.plot([0, 1], [1, 0], label=f"panel {i}")
        ax.legend()
    plotting.shared_legend(fig, axes, ncols=3)
    assert all(ax.get_legend() is None for ax in axes)
    (legend,) = fig.legends
    assert [t.get_text() for t in legend.get_texts()] == ["both", "panel 0", "panel 1"]
    fig2, axes2 = plotting.new_figure()
    plotting.shared_legend(fig2, axes2)  # nothing labelled: no legend
    assert not fig2.legends


def test_plain_log_ticks_label_plain_numbers():
    fig, (ax,) = plotting.new_figure()
    ax.plot([20, 60], [30, 70])
    ax.set_yscale("log")
    plotting.plain_log_ticks(ax.yaxis)
    fig.canvas.draw()
    shown = [t.get_text() for t in ax.get_yticklabels() if t.get_text()]
    assert shown and all("times" not in s and "^" not in s for s in shown)
    assert "50" in shown  # 5 times a power of ten, inside a range below one decade
