"""Tests of ptheory.segments: the segment lemma and its failure with several heads."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from ptheory.distance import uniform_inputs
from ptheory.model import Attention
from ptheory.segments import (
    IdentityReport,
    PromptSplit,
    check_prompt_identity,
    prompt_split,
    prompt_weight_by_length,
    segment_fit,
)

F64 = torch.float64


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


@settings(max_examples=50, deadline=None, database=None)
@given(
    d=st.integers(1, 5),
    L=st.integers(1, 5),
    L_p=st.integers(1, 6),
    head_size=st.integers(1, 5),
    scale=st.sampled_from(["1/d", "1/sqrt(d)", "none", 0.7]),
    seed=st.integers(0, 2**31 - 1),
)
def test_prompt_split_is_the_lemma(d, L, L_p, head_size, scale, seed):
    attn = Attention(d, head_size, scale=scale, seed=seed)
    g = gen(seed)
    P = torch.randn(d, L_p, generator=g, dtype=F64)
    X = torch.rand(d, L, generator=g, dtype=F64)
    with torch.no_grad():
        split = prompt_split(attn, P, X)
        # output is the layer's own attention over [P, X], computed independently
        torch.testing.assert_close(
            split.output, attn.attend(X, torch.cat([P, X], dim=-1)), rtol=0, atol=0
        )
    assert split.output.shape == split.prompt_part.shape == split.input_part.shape == (d, L)
    assert split.weight.shape == (1, L)
    assert (split.output - split.combination()).abs().max() < 1e-12
    assert (split.weight > 0).all() and (split.weight < 1).all()
    # the weight is the softmax mass on the prompt columns
    mass = torch.softmax(attn.scores(X, torch.cat([P, X], dim=-1)), dim=-2)[0, :L_p].sum(0)
    torch.testing.assert_close(split.weight[0], mass.detach(), rtol=1e-12, atol=1e-14)
    _t, dist = segment_fit(split.output, split.prompt_part, split.input_part)
    assert (dist < 1e-8).all()


def test_prompt_split_weight_by_hand():
    """Identity weights, one query e_1, prompt column e_1, input column e_2, scale c:
    scores are (c, 0), so lam = e^c / (e^c + 1)."""
    eye = torch.eye(2, dtype=F64)
    attn = Attention.from_weights(eye, eye, eye, eye, scale=0.8)
    e1, e2 = eye[:, :1], eye[:, 1:]
    with torch.no_grad():
        split = prompt_split(attn, e1, e2, queries=e1)
    lam = math.exp(0.8) / (math.exp(0.8) + 1)
    assert float(split.weight) == pytest.approx(lam, rel=1e-14)
    torch.testing.assert_close(split.prompt_part.detach(), e1)
    torch.testing.assert_close(split.input_part.detach(), e2)
    expected = lam * e1 + (1 - lam) * e2
    torch.testing.assert_close(split.output.detach(), expected, rtol=0, atol=1e-15)


def test_prompt_split_broadcasts_batches_and_queries():
    attn = Attention(2, seed=3)
    P = torch.randn(3, 1, 2, 4, generator=gen(1), dtype=F64)  # K = 3 prompts
    X = torch.rand(1, 5, 2, 6, generator=gen(2), dtype=F64)  # N = 5 inputs
    with torch.no_grad():
        split = prompt_split(attn, P, X, queries=X[..., -1:])
    assert split.output.shape == (3, 5, 2, 1)
    assert split.weight.shape == (3, 5, 1, 1)
    assert (split.output - split.combination()).abs().max() < 1e-12
    with torch.no_grad():
        one = prompt_split(attn, P[2, 0], X[0, 4], queries=X[0, 4, :, -1:])
    torch.testing.assert_close(split.output[2, 4], one.output)
    torch.testing.assert_close(split.weight[2, 4], one.weight)


def test_combination_needs_one_head():
    attn = Attention(3, heads=2, seed=0)
    with torch.no_grad():
        split = prompt_split(attn, torch.ones(3, 2, dtype=F64), torch.zeros(3, 4, dtype=F64))
    assert split.weight.shape == (2, 4)
    with pytest.raises(ValueError, match="single head"):
        split.combination()


def test_prompt_split_is_frozen_dataclass():
    attn = Attention(2, seed=0)
    split = prompt_split(attn, torch.ones(2, 1, dtype=F64), torch.zeros(2, 1, dtype=F64))
    assert isinstance(split, PromptSplit)
    with pytest.raises(AttributeError):
        split.weight = torch.zeros(1, 1)


# ------------------------------------------------------------------------ segment_fit


def col(*xs: float) -> torch.Tensor:
    return torch.tensor(xs, dtype=F64)[:, None]


@pytest.mark.parametrize(
    ("o", "t_expected", "dist_expected"),
    [
        (col(0.5, 0.0), 0.25, 0.0),  # on the segment
        (col(0.0, 0.0), 0.0, 0.0),  # at b
        (col(2.0, 0.0), 1.0, 0.0),  # at a
        (col(1.0, 0.6), 0.5, 0.3),  # off it: 0.6 above, divided by ||a - b|| = 2
        (col(3.0, 0.0), 1.5, 0.5),  # beyond a: distance to a, 1, over 2
        (col(-1.0, 0.0), -0.5, 0.5),  # before b
        (col(-0.6, 0.8), -0.3, 0.5),  # before b and off the line: ||o - b|| = 1
    ],
)
def test_segment_fit_hand_made(o, t_expected, dist_expected):
    a, b = col(2.0, 0.0), col(0.0, 0.0)
    t, dist = segment_fit(o, a, b)
    assert t.shape == dist.shape == (1,)
    assert float(t) == pytest.approx(t_expected, abs=1e-15)
    assert float(dist) == pytest.approx(dist_expected, abs=1e-15)


def test_segment_fit_is_scale_and_shift_free_and_batched():
    a, b, o = col(1.0, 1.0, 0.0), col(0.0, 1.0, 0.0), col(0.25, 1.0, 0.5)
    t, dist = segment_fit(o, a, b)
    assert float(t) == pytest.approx(0.25) and float(dist) == pytest.approx(0.5)
    t2, dist2 = segment_fit(10 * o + 3, 10 * a + 3, 10 * b + 3)
    assert float(t2) == pytest.approx(0.25) and float(dist2) == pytest.approx(0.5)
    stacked = [torch.cat([x, 10 * x + 3], dim=-1).expand(2, 3, 2) for x in (o, a, b)]
    tb, db = segment_fit(*stacked)
    assert tb.shape == db.shape == (2, 2)
    torch.testing.assert_close(tb, torch.full((2, 2), 0.25, dtype=F64))
    torch.testing.assert_close(db, torch.full((2, 2), 0.5, dtype=F64))


# ------------------------------------------------------------- check_prompt_identity


def test_check_prompt_identity_single_head_holds():
    report = check_prompt_identity(60, heads=1, seed=3)
    assert isinstance(report, IdentityReport)
    assert report.n_draws == 60 and report.heads == 1
    assert report.n_queries >= 60
    assert report.max_identity_error is not None and report.max_identity_error < 1e-10
    assert report.max_segment_distance < 1e-10
    assert report.max_weight_mismatch is not None and report.max_weight_mismatch < 1e-10
    assert 0 < report.min_weight <= report.max_weight < 1


def test_check_prompt_identity_breaks_with_two_heads():
    """What breaks without the hypothesis: each head has its own lam."""
    report = check_prompt_identity(60, heads=2, seed=3)
    assert report.heads == 2
    assert report.max_identity_error is None
    assert report.max_weight_mismatch is None
    assert report.max_segment_distance > 1e-3
    assert 0 < report.min_weight <= report.max_weight < 1


def test_check_prompt_identity_rejects_the_count_weight():
    """The control's wrong weight, the prompt's share of the columns, misses the output."""
    right = check_prompt_identity(60, seed=3)
    wrong = check_prompt_identity(60, weight="count", seed=3)
    assert right.max_identity_error < 1e-12
    assert wrong.max_identity_error > 0.1
    assert wrong.max_segment_distance == right.max_segment_distance  # only the weight differs


def test_check_prompt_identity_deterministic():
    assert check_prompt_identity(10, seed=1) == check_prompt_identity(10, seed=1)
    assert check_prompt_identity(10, seed=1) != check_prompt_identity(10, seed=2)


# ------------------------------------------------------------ prompt_weight_by_length


def test_prompt_weight_by_length_shape_and_trend():
    attn = Attention(3, seed=5, scale="1/sqrt(d)")
    X = uniform_inputs(4, 3, 5, seed=1)
    lengths = [1, 2, 4, 8, 16, 32]
    w = prompt_weight_by_length(attn, X, lengths, n_prompts=32, seed=2)
    assert w.shape == (len(lengths), 32 * 4 * 5)
    assert w.dtype == F64
    assert (w > 0).all() and (w < 1).all()
    medians = w.median(dim=1).values
    assert (medians[1:] > medians[:-1]).all(), medians
    again = prompt_weight_by_length(attn, X, tuple(lengths), n_prompts=32, seed=2)
    torch.testing.assert_close(w, again, rtol=0, atol=0)
    other = prompt_weight_by_length(attn, X, lengths, n_prompts=32, seed=3)
    assert not torch.equal(w, other)


def test_prompt_weight_by_length_zero_scale_is_uniform_mass():
    """A zero prompt has score 0 against every query; with scale "none" and W_Q = 0 every
    score is 0, so lam = L_p / (L_p + L) exactly."""
    attn = Attention(2, seed=0, scale="none")
    with torch.no_grad():
        attn.W_Q.zero_()
    X = uniform_inputs(3, 2, 4, seed=0)
    w = prompt_weight_by_length(attn, X, [1, 4, 12], n_prompts=5)
    for row, L_p in zip(w, [1, 4, 12], strict=True):
        torch.testing.assert_close(row, torch.full_like(row, L_p / (L_p + 4)))


def test_input_weight_is_the_complement_and_survives_where_lam_rounds_to_one():
    attn = Attention(3, seed=2, scale="none")
    X = uniform_inputs(4, 3, 2, seed=1)
    P = torch.randn(3, 5, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    split = prompt_split(attn, P, X)
    assert torch.allclose(split.weight + split.input_weight, torch.ones_like(split.weight))
    # Scale the prompt until lam is 1.0 in float64: the input's share is still positive
    # and still equals exp(lse(input scores) - lse(all scores)).
    big = prompt_split(attn, 60.0 * P, X)
    assert (big.weight == 1.0).any()
    assert (big.input_weight > 0).all()
    scores = attn.scores(X, torch.cat([60.0 * P.expand(4, 3, 5), X], dim=-1))
    expected = torch.exp(torch.logsumexp(scores[..., 5:, :], -2) - torch.logsumexp(scores, -2))
    assert torch.allclose(big.input_weight, expected, rtol=1e-12, atol=0)


def test_prompt_weight_by_length_input_share_is_one_minus_weight():
    attn = Attention(2, seed=0, scale="none")
    X = uniform_inputs(3, 2, 2, seed=0)
    lam = prompt_weight_by_length(attn, X, [1, 4, 16], n_prompts=8, seed=5)
    share = prompt_weight_by_length(attn, X, [1, 4, 16], n_prompts=8, seed=5, input_share=True)
    assert torch.allclose(lam + share, torch.ones_like(lam))
    assert (share.median(dim=-1).values.diff() < 0).all()
