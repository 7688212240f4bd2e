"""Tests of ptheory.universality: the fixed model computes every quantized target."""

from __future__ import annotations

import functools
import math

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
    default_scale,
    dimensions,
    grid_sequences,
    log10_class_size,
    quantization_bound,
    quantize,
    quantized_target,
)

F64 = torch.float64
REQUIRED = [(1, 1, 0.25), (1, 2, 0.5), (2, 1, 0.5)]
BUILDABLE = [(1, 1, 0.5), (1, 1, 1 / 3), *REQUIRED]


@functools.cache
def built(d: int, L: int, delta: float, p: float = 2, value_map: str = "wide"):
    return construct(d, L, delta, p, value_map=value_map)


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


def test_weights_do_not_depend_on_the_target():
    model = built(1, 2, 0.5)
    before = {k: v.clone() for k, v in model.model.state_dict().items()}
    again = construct(1, 2, 0.5)  # built a second time, with no target in sight
    for target in (pt.random_relu_target(1, 2, seed=1), pt.shift_target(1, 2), lambda X: X**2):
        model.prompt_for(target)
    for k, v in model.model.state_dict().items():
        assert torch.equal(v, before[k]), k
        assert torch.equal(v, again.model.state_dict()[k]), k
    assert all(not w.requires_grad for w in model.model.parameters())


@settings(max_examples=15, deadline=None, database=None)
@given(
    size=st.sampled_from(BUILDABLE),
    lipschitz=st.floats(0.25, 4.0),
    p=st.sampled_from([1.0, 2.0, 3.0]),
    seed=st.integers(0, 10_000),
)
def test_dp_error_within_the_bound(size, lipschitz, p, seed):
    d, L, delta = size
    model = built(d, L, delta, p)
    f = pt.random_relu_target(d, L, lipschitz=lipschitz, p=p, seed=seed)
    P = model.prompt_for(f)
    est = pt.dp_distance(
        lambda X: model.forward(P, X), f, d, L, p=p, n_samples=512, seed=seed, batch_size=256
    )
    bound = model.error_bound(lipschitz)
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
        sep = contextual_separation(d, L, delta, default_scale(d, L, delta), rank=rank)
        assert sep.n_codes == 256 * d**0 * (round(1 / delta) ** (d * L)) * L
        assert sep.injective() and sep.n_collisions == 0, sep
        assert sep.relative > 1e-7


@pytest.mark.parametrize("d, L, delta", REQUIRED)
def test_contextual_mapping_collides_for_too_small_scale(d, L, delta):
    lam = default_scale(d, L, delta)
    assert contextual_separation(d, L, delta, 0.0).min_gap == 0.0  # plain averaging
    small = contextual_separation(d, L, delta, 1e-3 * lam)
    assert not small.injective() and small.n_collisions > 0, small
    with pytest.raises(ValueError, match=r"^scale"):
        construct(d, L, delta, scale=1e-3 * lam)


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
    # a sawtooth with 8 teeth (Lipschitz constant 8): the grids with delta >= 1/4 see
    # it as a constant, and the error stays above its standard deviation 1/sqrt(12)
    def saw(X):
        return torch.remainder(8 * X, 1.0)

    for delta in (0.5, 1 / 3, 0.25):
        model = built(1, 1, delta)
        P = model.prompt_for(saw)
        err = pt.dp_distance(model.tuned(P), saw, 1, 1, n_samples=2048)
        assert err.value > 0.25, (delta, err)
