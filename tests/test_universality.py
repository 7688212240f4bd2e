"""Tests of ptheory.universality: the fixed model computes every quantized target."""

from __future__ import annotations

import functools
import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import ptheory as pt
from ptheory.universality import (
    all_prompts,
    class_size,
    construct,
    contextual_separation,
    default_beta,
    dimensions,
    exact_codes,
    ff2_table,
    grid_codes,
    grid_sequences,
    log10_class_size,
    off_ramp_agreement,
    on_ramp,
    poly_codes,
    precision,
    quantization_bound,
    quantize,
    quantized_target,
    separation_by_precision,
)
from ptheory.universality.precision import float_codes

F64 = torch.float64
REQUIRED = [(1, 1, 0.25), (1, 2, 0.5), (2, 1, 0.5)]
BUILDABLE = [(1, 1, 0.5), (1, 1, 1 / 3), *REQUIRED]


@functools.cache
def built(d: int, L: int, delta: float, value_map: str = "wide"):
    return construct(d, L, delta, value_map=value_map)


@pytest.mark.parametrize("d, L, delta", REQUIRED)
def test_required_sizes_index_256_targets(d, L, delta):
    assert class_size(d, L, delta) == 256
    assert abs(log10_class_size(d, L, delta) - math.log10(256)) < 1e-12
    model = built(d, L, delta)
    prompts = all_prompts(d, L, delta)
    grid = grid_sequences(d, L, delta)
    assert prompts.shape == (256, d, model.prompt_length)
    seen = set()
    for P in prompts:  # the whole class: each grid prompt is one quantized target
        out = model.forward(P, grid)
        table = P.T.reshape(len(grid), L, d).transpose(1, 2)
        assert (out - table).abs().max() < 1e-6
        # the prompt of the function it computes is itself: prompts index the class
        f = quantized_target(lambda X, out=out: out[_cell(X, delta, d, L)], d, L, delta)
        assert torch.equal(model.prompt_for(f), P)
        seen.add(tuple(P.reshape(-1).tolist()))
    assert len(seen) == 256
    # all prompts at once: (R, d, L_p) gives (R, N, d, L), prompt by prompt the same
    batched = model.forward(prompts, grid)
    assert batched.shape == (256, len(grid), d, L)
    assert torch.allclose(batched[7], model.forward(prompts[7], grid), atol=1e-12)


def _cell(X, delta, d, L):
    v1 = round(1 / delta)
    level = torch.clamp(torch.floor(X * v1), 0, v1 - 1).long()
    weights = v1 ** torch.arange(d * L - 1, -1, -1)
    return (level.transpose(1, 2).reshape(X.shape[0], -1) * weights).sum(dim=1)


@settings(max_examples=15, deadline=None, database=None)
@given(
    size=st.sampled_from(BUILDABLE),
    lipschitz=st.floats(0.25, 4.0),
    p=st.sampled_from([1.0, 2.0, 3.0]),
    seed=st.integers(0, 10_000),
)
def test_dp_error_within_the_bound(size, lipschitz, p, seed):
    d, L, delta = size
    model = built(d, L, delta)
    f = pt.random_relu_target(d, L, lipschitz=lipschitz, p=p, seed=seed)
    P = model.prompt_for(f)
    est = pt.dp_distance(
        lambda X: model.forward(P, X), f, d, L, p=p, n_samples=512, seed=seed, batch_size=256
    )
    bound = model.error_bound(lipschitz, p)
    assert est.value - 3 * est.stderr <= bound, (est, bound)
    # and the bound's main term is the quantization of input and output
    assert bound < quantization_bound(lipschitz, d, L, delta, p) * 1.1 + 1e-3


def test_error_shrinks_with_delta():
    f = pt.random_relu_target(1, 1, lipschitz=2.0, seed=5)
    errors = []
    for delta in (0.5, 0.25):
        model = built(1, 1, delta)
        P = model.prompt_for(f)
        errors.append(pt.dp_distance(model.tuned(P), f, 1, 1, n_samples=2048).value)
    assert errors[1] < errors[0]


@settings(max_examples=20, deadline=None, database=None)
@given(size=st.sampled_from(BUILDABLE), seed=st.integers(0, 10_000))
def test_quantization_bound_holds_pointwise(size, seed):
    d, L, delta = size
    f = pt.random_relu_target(d, L, lipschitz=3.0, seed=seed)
    X = pt.uniform_inputs(256, d, L, seed=seed)
    gap = (f(X) - quantized_target(f, d, L, delta)(X)).abs().pow(2).flatten(1).sum(1).sqrt()
    assert float(gap.max()) <= quantization_bound(3.0, d, L, delta, 2) + 1e-12


def test_quantize_snaps_to_centres():
    X = torch.tensor([0.0, 0.24, 0.25, 0.99, 1.0, -0.1], dtype=F64)
    assert quantize(X, 0.25).tolist() == [0.125, 0.125, 0.375, 0.875, 0.875, 0.125]


@pytest.mark.parametrize("d, L, delta", REQUIRED)
def test_contextual_mapping_injective_for_large_enough_scale(d, L, delta):
    for rank in ("one", "full") if d > 1 else ("one",):
        sep = contextual_separation(d, L, delta, default_beta(d, L, delta), rank=rank)
        assert sep.n_codes == 256 * d**0 * (round(1 / delta) ** (d * L)) * L
        assert sep.injective() and sep.n_collisions == 0, sep
        assert sep.relative > 1e-7


@pytest.mark.parametrize("d, L, delta", REQUIRED)
def test_contextual_mapping_collides_for_too_small_scale(d, L, delta):
    beta = default_beta(d, L, delta)
    assert contextual_separation(d, L, delta, 0.0).min_gap == 0.0  # plain averaging
    small = contextual_separation(d, L, delta, 1e-3 * beta)
    assert not small.injective() and small.n_collisions > 0, small
    with pytest.raises(ValueError, match=r"^beta"):
        construct(d, L, delta, beta=1e-3 * beta)


def test_deep_and_wide_value_maps_compute_the_same_function():
    X = pt.uniform_inputs(256, 1, 1, seed=3)
    for delta, depth in ((1 / 3, None), (0.25, 16)):
        wide = built(1, 1, delta)
        deep = construct(1, 1, delta, value_map="deep", depth=depth)
        assert deep.width < wide.width and deep.depth > wide.depth
        P = wide.prompt_for(pt.random_relu_target(1, 1, seed=2))
        assert (wide.forward(P, X) - deep.forward(P, X)).abs().max() < 1e-6
        grid = grid_sequences(1, 1, delta)
        assert (wide.forward(P, grid) - deep.forward(P, grid)).abs().max() < 1e-6


@pytest.mark.parametrize("d, L, delta", BUILDABLE)
@pytest.mark.parametrize("value_map, depth", [("wide", None), ("deep", 5)])
def test_dimensions_match_the_built_model(d, L, delta, value_map, depth):
    dims = dimensions(d, L, delta, value_map=value_map, depth=depth)
    model = construct(d, L, delta, value_map=value_map, depth=depth)
    assert dims.prompt_length == model.prompt_length == round(1 / delta) ** (d * L) * L
    assert dims.n_params == model.n_params
    assert dims.width == model.width
    assert dims.depth == model.depth == len(model.model.layers)
    assert dims.n_codes == model.n_codes
    Q = torch.cat([all_prompts(d, L, delta)[0], grid_sequences(d, L, delta)[0]], dim=1)
    attn = model.model.layers[1]
    with torch.no_grad():
        H = model.model.layers[0](Q + model.model.positions)
        kq = max(float((attn.W_Q @ H).abs().max()), float((attn.W_K @ H).abs().max()))
    assert kq <= dims.key_query_norm + 1e-9


def test_dimensions_of_sizes_too_large_to_build():
    dims = dimensions(2, 2, 0.25)
    assert dims.prompt_length == 4**4 * 2
    assert dims.class_size == 16**dims.prompt_length
    deep = dimensions(2, 2, 0.25, value_map="deep")  # one narrow layer per code
    assert deep.value_depth == dims.n_codes + 1 and deep.value_width == 4
    with pytest.raises(ValueError, match=r"^delta"):
        construct(2, 2, 0.25)


def test_target_finer_than_the_grid_is_not_approximated():
    # a triangle wave of slope 8 (8-Lipschitz): grids with delta >= 1/4 see it as a
    # constant, and the error stays above its standard deviation 1/sqrt(12)
    tri = pt.universality.triangle_wave(8.0)
    for delta in (0.5, 1 / 3, 0.25):
        model = built(1, 1, delta)
        P = model.prompt_for(tri)
        err = pt.dp_distance(model.tuned(P), tri, 1, 1, n_samples=2048)
        assert err.value > 0.25, (delta, err)
        # with C = 1 claimed the bound is wrong at delta = 1/4; with C = 8 it holds
        if delta == 0.25:
            assert err.value - 3 * err.stderr > model.error_bound(1.0)
            assert err.value + 3 * err.stderr <= model.error_bound(8.0)


# ------------------------------------------------------------------ the sharp check
SHARP_TARGETS = {
    "relu": lambda d, L: pt.random_relu_target(d, L, seed=4),
    "mean": lambda d, L: pt.mean_pool_target(d, L, lipschitz=2.0),
    "shift": lambda d, L: pt.shift_target(d, L),
    "triangle": lambda d, L: pt.universality.triangle_wave(3.0),
    "not Lipschitz": lambda d, L: lambda X: torch.remainder(7 * X, 1.0),
}


@pytest.mark.parametrize("d, L, delta", BUILDABLE)
@pytest.mark.parametrize("target", sorted(SHARP_TARGETS))
def test_tuned_model_equals_quantized_target_off_the_ramps(d, L, delta, target):
    model = built(d, L, delta)
    f = SHARP_TARGETS[target](d, L)
    agree = off_ramp_agreement(model, model.prompt_for(f), f, n_samples=2048, seed=1)
    assert agree.passes(1e-9), agree
    assert agree.n_off_ramp > 2000 and agree.n_inputs == 2048


@pytest.mark.parametrize("d, L, delta", REQUIRED)
def test_sharp_check_rejects_wrong_prompts(d, L, delta):
    model = built(d, L, delta)
    f = pt.random_relu_target(d, L, seed=0)
    right = model.prompt_for(f)
    gen = torch.Generator().manual_seed(2)
    wrong = [
        torch.full_like(right, 0.25),
        model.prompt_for(pt.random_relu_target(d, L, seed=1)),
        all_prompts(d, L, delta)[123],
        torch.rand(right.shape, generator=gen, dtype=F64),
    ]
    for P in wrong:
        assert not torch.equal(P, right)
        agree = off_ramp_agreement(model, P, f, n_samples=1024)
        assert not agree.passes(1e-9) and agree.max_error > 0.1, agree


def test_on_ramp_marks_only_the_ramps():
    X = torch.tensor([0.0, 0.25, 0.25 + 1e-7, 0.25 + 3e-7, 0.5 + 1e-8, 0.7, 1.0], dtype=F64)
    marks = on_ramp(X.reshape(-1, 1, 1), 0.25, 1e-7).tolist()
    assert marks == [False, True, True, False, True, False, False]


def test_inputs_on_a_ramp_can_differ_and_are_dropped():
    model = construct(1, 1, 0.25, eta=0.05)
    f = pt.random_relu_target(1, 1, seed=0)
    P = model.prompt_for(f)
    X = torch.tensor([[[0.26]], [[0.27]]], dtype=F64)  # inside the first ramp
    gap = (model.forward(P, X) - quantized_target(f, 1, 1, 0.25)(X)).abs().max()
    assert float(gap) > 1e-3  # the ramp is where the model is not exact ...
    assert off_ramp_agreement(model, P, f).passes()  # ... and the check leaves it out


# ------------------------------------------------------------------ precision
@pytest.mark.parametrize("d, L, delta", [(1, 1, 0.5), (1, 1, 1 / 3), (2, 1, 0.5)])
def test_exact_codes_match_the_float64_layer(d, L, delta):
    row = separation_by_precision(d, L, delta)
    exact = exact_codes(d, L, delta)
    f64 = float_codes(d, L, delta, F64)
    # exact codes are c * 2^bits: the ratio to the float64 codes is one power of two
    scale = float(2**precision.FRAC_BITS)
    ratio = torch.tensor([int(x) / scale for x in exact], dtype=F64) / f64
    assert torch.allclose(ratio, ratio[0].expand_as(ratio), rtol=1e-13, atol=0)
    assert abs(float(torch.log2(ratio[0])) - round(float(torch.log2(ratio[0])))) < 1e-12
    approx = f64
    assert row.reliable("float64") and row.exact > 0
    front = sorted(grid_codes(d, L, delta).reshape(-1).tolist())
    assert abs(front[0] - float(approx.min())) < 1e-9 * front[0]


def test_float32_breaks_where_float64_does_not():
    row = separation_by_precision(1, 2, 0.5)
    assert row.reliable("float64") and not row.reliable("float32")
    assert not row.order_ok_32 and row.order_ok_64


def test_exact_map_is_injective_where_float64_collides():
    beta = default_beta(1, 2, 0.5)
    small = separation_by_precision(1, 2, 0.5, beta=1e-3 * beta)
    assert small.exact > 0 and not small.reliable("float64")
    ratio = separation_by_precision(1, 2, 0.5, beta=1e-2 * beta).exact / small.exact
    assert 900 < ratio < 1100  # the gap grows like beta^3 at this size (nu = 3)
    huge = exact_codes(1, 2, 0.5, beta=1e4 * beta)
    assert -1e4 < precision.log10_relative_separation(huge) < -300  # tiny, not zero
    assert precision.log10_relative_separation(exact_codes(1, 2, 0.5, beta=0.0)) == -math.inf


def test_poly_attention_at_the_efficient_degree_breaks_the_codes():
    from ptheory.efficiency import select_degree

    size = (1, 1, 0.2)
    exact = exact_codes(*size)
    order = torch.tensor(sorted(range(len(exact)), key=exact.__getitem__))
    dims = dimensions(*size)
    degree = select_degree(dims.key_query_norm, 1 / 6**2, 1).degree
    assert not bool((poly_codes(*size, degree)[order].diff() > 0).all())
    assert bool((poly_codes(*size, 16)[order].diff() > 0).all())


# ------------------------------------------------------------------ oracle against gradient
def test_gradient_vanishes_on_the_construction_and_not_when_smoothed():
    from ptheory.universality.tuning import oracle_vs_gradient

    cmp = oracle_vs_gradient(pt.universality.sine_wave(2.0), 0.25, lengths=(1, 4), steps=10)
    assert cmp.grad_random < 1e-12 and cmp.grad_oracle < 1e-12
    assert cmp.grad_smooth > 1e-3  # the same gradient, at the same prompts, with wide ramps
    assert cmp.sharp == cmp.sharp_start
    assert cmp.smooth < cmp.smooth_start
    assert cmp.oracle < min(
        cmp.sharp, cmp.smooth, cmp.trivial
    )  # not the random model: seed-dependent


def test_ff2_table_and_layer_sizes_share_one_source():
    for size in BUILDABLE:
        dims = dimensions(*size)
        codes, values = ff2_table(*size)
        assert len(codes) == dims.n_codes == values.shape[0]
        assert dims.ff2_layers[0][0] == dims.value_width
        assert bool((codes.diff() > 0).all())


@pytest.mark.parametrize(
    "kwargs, error, name",
    [
        ({"target": 3}, TypeError, "target"),
        ({"lengths": ()}, ValueError, "lengths"),
        ({"lengths": (0,)}, ValueError, "lengths"),
        ({"restarts": 0}, ValueError, "restarts"),
        ({"n_samples": 1.5}, TypeError, "n_samples"),
        ({"delta": 0.3}, ValueError, "delta"),
    ],
)
def test_oracle_vs_gradient_bad_inputs(kwargs, error, name):
    from ptheory.universality.tuning import oracle_vs_gradient

    args = {"target": pt.universality.sine_wave(1.0), **kwargs}
    with pytest.raises(error, match=name):
        oracle_vs_gradient(**args)


def test_float64_ff2_misses_the_sharp_tolerance_at_fifteen_thousand_codes():
    """At delta = 1/5 (K = 15,625 codes, relative separation about 7e-9) the codes are
    still apart in float64 and construct builds, but FF_2's own rounding (ramps over gaps
    of 1e-8 of the range) already breaks the 1e-9 sharp check, though not the 1e-6 one."""
    model = construct(1, 1, 0.2)
    assert 1e-9 < model.separation / model.code_range < 1e-8
    f = pt.random_relu_target(1, 1, seed=0)
    agree = off_ramp_agreement(model, model.prompt_for(f), f, n_samples=1024)
    assert not agree.passes(1e-9) and agree.passes(1e-6), agree


def test_pipeline_figure_draws_the_models_own_codes():
    """The pipeline figure reads the model it is given (its scale, its layers), not the
    default construction: the table's dots are that model's contextual codes."""
    import matplotlib

    matplotlib.use("Agg")
    from ptheory.universality import plot_pipeline

    beta = 3.0 * default_beta(1, 1, 0.5)
    model = construct(1, 1, 0.5, beta=beta)
    fig = plot_pipeline(model)
    dots = fig.axes[2].lines[1].get_xdata()
    codes = sorted(model.context_codes()[1][..., 0].reshape(-1).tolist())[: len(dots)]
    assert len(dots) == min(24, model.n_codes)
    assert np.allclose(sorted(dots), codes, rtol=0, atol=1e-12)
    default_codes = sorted(grid_codes(1, 1, 0.5).reshape(-1).tolist())[: len(dots)]
    assert not np.allclose(sorted(dots), default_codes, rtol=0, atol=1e-6)
    spread = fig.axes[1].collections[1].get_offsets()[:, 0]  # the "before" marks
    assert np.all(spread == 0)  # before the attention layer: one code for every prompt


def test_cost_rows_compare_the_entry_bound_with_root_log_n():
    """B, the largest query or key entry, is a constant near 1.6: above sqrt(ln n) on the
    built grids, below it from 1/delta = 11 on (d = L = 1); large counts read 2.5e8."""
    from ptheory.universality.experiments import _fmt, cost_rows

    rows = {r["1/delta"]: r for r in cost_rows(1, 1, [1 / v for v in (2, 3, 4, 5, 10, 11, 16)])}
    for v, row in rows.items():
        assert row["n"] == row["L_p"] + 1 == v + 1
        assert 1.5 < row["B"] < 1.7
        assert abs(row["sqrt(ln n)"] - math.sqrt(math.log(v + 1))) < 0.01
        assert (row["B"] > row["sqrt(ln n)"]) == (v <= 10), v
    for size in [(1, 2, 0.5), (2, 1, 0.5)]:
        dims = dimensions(*size)
        assert dims.key_query_norm > math.sqrt(math.log(dims.prompt_length + size[1]))
    assert _fmt(9_999_999) == "9,999,999"
    assert _fmt(10**7) == "1.0e7"
    assert _fmt(99_960_000) == "1.0e8"  # rounds up into the next power
    assert _fmt(251_188_643) == "2.5e8"
