"""Tests of ptheory.model: layers, transformers and prompt tuning's forward pass."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from ptheory.model import (
    Attention,
    FeedForward,
    Transformer,
    build_transformer,
    default_device,
    freeze,
    mixing_attention,
    prompt_forward,
    resolve_scale,
)

F64 = torch.float64
SCALES = ["1/d", "1/sqrt(d)", "none", 0.3]


def expected_scale(scale, d: int) -> float:
    return {"1/d": 1.0 / d, "1/sqrt(d)": 1.0 / math.sqrt(d), "none": 1.0}.get(scale, scale)


def rand(*shape: int, seed: int = 0) -> torch.Tensor:
    return torch.rand(*shape, generator=torch.Generator().manual_seed(seed), dtype=F64)


def randn(*shape: int, seed: int = 0) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=F64)


# ----------------------------------------------------------------------------- scales


@pytest.mark.parametrize(
    ("scale", "d", "value"),
    [
        ("1/d", 4, 0.25),
        ("1/sqrt(d)", 4, 0.5),
        ("1/sqrt(d)", 2, 1 / math.sqrt(2)),
        ("none", 7, 1.0),
        (0.3, 5, 0.3),
        (2, 5, 2.0),
    ],
)
def test_resolve_scale(scale, d, value):
    got = resolve_scale(scale, d)
    assert isinstance(got, float)
    assert got == pytest.approx(value, rel=1e-15)


def test_default_device_follows_cuda(monkeypatch):
    assert default_device() == torch.device("cuda" if torch.cuda.is_available() else "cpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert default_device() == torch.device("cpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert default_device().type == "cuda"


# -------------------------------------------------------------------------- attention


@pytest.mark.parametrize("scale", SCALES)
def test_attention_closed_form_identity_weights(scale):
    """W_Q = W_K = W_V = W_O = I and tokens e_1, e_2: scores are c * delta_ij, so

    Attn(Z)_{:,1} = e_1 + (e^c e_1 + e_2) / (e^c + 1), and symmetrically for e_2."""
    eye = torch.eye(2, dtype=F64)
    attn = Attention.from_weights(eye, eye, eye, eye, scale=scale)
    c = expected_scale(scale, 2)
    Z = torch.eye(2, dtype=F64)  # columns e_1, e_2
    big = math.exp(c) / (math.exp(c) + 1.0)
    small = 1.0 / (math.exp(c) + 1.0)
    expected = torch.tensor([[1.0 + big, small], [small, 1.0 + big]], dtype=F64)
    torch.testing.assert_close(attn(Z), expected, rtol=0, atol=1e-14)
    no_res = Attention.from_weights(eye, eye, eye, eye, scale=scale, residual=False)
    torch.testing.assert_close(no_res(Z), expected - Z, rtol=0, atol=1e-14)


def _matvec(M, v):
    return [sum(M[r][k] * v[k] for k in range(len(v))) for r in range(len(M))]


def _reference_attention(W_Q, W_K, W_V, W_O, Z_cols, c, residual=True):
    """Pure-Python single-head attention; Z_cols is a list of token columns."""
    n = len(Z_cols)
    q = [_matvec(W_Q, z) for z in Z_cols]
    k = [_matvec(W_K, z) for z in Z_cols]
    v = [_matvec(W_O, _matvec(W_V, z)) for z in Z_cols]
    out = []
    for j in range(n):  # query j
        scores = [c * sum(ki * qi for ki, qi in zip(k[i], q[j], strict=True)) for i in range(n)]
        exps = [math.exp(s) for s in scores]
        total = sum(exps)
        col = [sum(exps[i] / total * v[i][r] for i in range(n)) for r in range(len(Z_cols[j]))]
        if residual:
            col = [a + b for a, b in zip(col, Z_cols[j], strict=True)]
        out.append(col)
    return out  # list of output columns


@pytest.mark.parametrize("scale", SCALES)
def test_attention_matches_hand_computation(scale):
    """Non-symmetric weights, 3 tokens: the softmax must run over the keys (each column)."""
    W_Q = [[1.0, 2.0], [0.0, -1.0]]
    W_K = [[0.5, -1.0], [1.5, 0.25]]
    W_V = [[1.0, 0.0], [2.0, -1.0]]
    W_O = [[0.5, 1.0], [-1.0, 0.0]]
    Z_cols = [[0.2, 0.9], [1.0, -0.4], [-0.7, 0.3]]
    c = expected_scale(scale, 2)
    expected_cols = _reference_attention(W_Q, W_K, W_V, W_O, Z_cols, c)
    expected = torch.tensor(expected_cols, dtype=F64).T  # tokens are columns
    attn2 = Attention.from_weights(
        *(torch.tensor(W, dtype=F64) for W in (W_Q, W_K, W_V, W_O)), scale=scale
    )
    assert attn2.scale == pytest.approx(c, rel=1e-15)
    Z = torch.tensor(Z_cols, dtype=F64).T
    torch.testing.assert_close(attn2(Z), expected, rtol=0, atol=1e-13)
    # the same on a batch, and on a single token (softmax over one key is 1)
    torch.testing.assert_close(attn2(torch.stack([Z, Z])), torch.stack([expected, expected]))
    one = _reference_attention(W_Q, W_K, W_V, W_O, Z_cols[:1], c)
    torch.testing.assert_close(attn2(Z[:, :1]), torch.tensor(one, dtype=F64).T, atol=1e-14, rtol=0)


def test_attention_softmax_is_over_keys():
    """With W_V = W_O = I and no residual each output column is a convex combination of the
    input columns, whose weights sum to one over the keys."""
    attn = Attention(3, heads=1, scale="none", residual=False, seed=4)
    with torch.no_grad():
        attn.W_V.copy_(torch.eye(3, dtype=F64))
        attn.W_O.copy_(torch.eye(3, dtype=F64))
    Z = randn(3, 5, seed=1)
    weights = torch.softmax(attn.scores(Z, Z)[0], dim=-2)
    torch.testing.assert_close(weights.sum(dim=0), torch.ones(5, dtype=F64))
    torch.testing.assert_close(attn(Z), Z @ weights)
    # one constant input: every convex combination returns it
    const = torch.full((3, 4), 0.7, dtype=F64)
    torch.testing.assert_close(attn(const), const)


def test_attention_scores_shape_and_value():
    attn = Attention(4, 2, heads=3, scale="1/d", seed=1)
    Q, K = randn(2, 4, 5, seed=2), randn(2, 4, 6, seed=3)
    S = attn.scores(Q, K)
    assert S.shape == (2, 3, 6, 5)
    for h in range(3):
        ref = (attn.W_K[h] @ K).transpose(-1, -2) @ (attn.W_Q[h] @ Q) / 4
        torch.testing.assert_close(S[:, h], ref)


@pytest.mark.parametrize("scale", SCALES)
def test_multi_head_is_sum_of_single_heads(scale):
    d, heads = 4, 3
    attn = Attention(d, 2, heads=heads, scale=scale, seed=11)
    Z = randn(5, d, 6, seed=5)
    total = Z.clone()
    for h in range(heads):
        single = Attention.from_weights(
            attn.W_Q[h], attn.W_K[h], attn.W_V[h], attn.W_O[h], scale=scale, residual=False
        )
        assert single.heads == 1
        total = total + single(Z)
    with torch.no_grad():
        torch.testing.assert_close(attn(Z), total, rtol=1e-12, atol=1e-12)


def test_from_weights_with_heads_dimension_round_trips():
    attn = Attention(3, 2, heads=2, scale="1/sqrt(d)", seed=3)
    copy = Attention.from_weights(
        attn.W_Q.detach(),
        attn.W_K.detach(),
        attn.W_V.detach(),
        attn.W_O.detach(),
        scale="1/sqrt(d)",
    )
    assert (copy.d, copy.head_size, copy.heads) == (3, 2, 2)
    Z = rand(3, 4)
    with torch.no_grad():
        torch.testing.assert_close(copy(Z), attn(Z), rtol=0, atol=0)


@pytest.mark.parametrize(("d", "head_size"), [(6, 1), (6, 2), (5, 3), (4, 4)])
def test_head_size_bounds_key_query_rank(d, head_size):
    attn = Attention(d, head_size, heads=3, seed=7)
    assert attn.W_Q.shape == (3, head_size, d)
    assert attn.W_O.shape == (3, d, head_size)
    KQ = attn.key_query_matrix().detach()
    assert KQ.shape == (3, d, d)
    ranks = torch.linalg.matrix_rank(KQ)
    assert (ranks <= head_size).all()
    assert (ranks == head_size).all()  # random weights reach the bound
    torch.testing.assert_close(KQ[1], attn.W_K[1].T.detach() @ attn.W_Q[1].detach())


def test_attention_seed_determinism_and_dtype():
    a, b, c = Attention(3, seed=5), Attention(3, seed=5), Attention(3, seed=6)
    assert torch.equal(a.W_Q, b.W_Q) and torch.equal(a.W_O, b.W_O)
    assert not torch.equal(a.W_Q, c.W_Q)
    f32 = Attention(3, seed=5, dtype=torch.float32)
    assert f32.W_Q.dtype == torch.float32
    torch.testing.assert_close(f32.W_Q, a.W_Q.to(torch.float32), rtol=0, atol=0)


def test_attention_accepts_numpy_and_integer_input():
    attn = Attention(2, seed=0)
    Z = np.array([[0.1, 0.5, 0.2], [0.3, -0.4, 0.9]])
    with torch.no_grad():
        out = attn(Z)
        assert out.dtype == F64
        torch.testing.assert_close(out, attn(torch.from_numpy(Z)))
        Zi = torch.tensor([[1, 0], [0, 2]])
        torch.testing.assert_close(attn(Zi), attn(Zi.to(F64)))


def test_attend_queries_and_keys_differ():
    attn = Attention(3, seed=2, scale="none")
    Q, K = rand(3, 2, seed=1), rand(3, 5, seed=2)
    out = attn.attend(Q, K)
    assert out.shape == (3, 2)
    # attending over one key returns that key's value, whatever the query
    single = attn.attend(Q, K[:, :1])
    value = (attn.W_O[0] @ attn.W_V[0] @ K[:, :1]).expand(3, 2)
    torch.testing.assert_close(single, value)


@pytest.mark.parametrize("heads", [1, 3])
def test_mixing_attention_mixes_tokens(heads):
    attn = mixing_attention(2, heads=heads, key_scale=1.5, residual=False, seed=4)
    assert isinstance(attn, Attention) and attn.heads == heads and attn.head_size == 2
    eye = torch.eye(2, dtype=F64)
    for h in range(heads):
        torch.testing.assert_close(attn.W_V[h].detach(), eye / heads)
        torch.testing.assert_close(attn.W_O[h].detach(), eye)
    Z = rand(2, 5, seed=3)
    with torch.no_grad():
        weights = torch.softmax(attn.scores(Z, Z), dim=-2).mean(dim=0)  # average over heads
        torch.testing.assert_close(attn(Z), Z @ weights)
        # outputs are convex combinations of the tokens: inside their bounding box
        out = attn(Z)
        assert (out >= Z.min(dim=-1, keepdim=True).values - 1e-15).all()
        assert (out <= Z.max(dim=-1, keepdim=True).values + 1e-15).all()
        with_res = mixing_attention(2, heads=heads, key_scale=1.5, seed=4)
        torch.testing.assert_close(with_res(Z), Z + out)


def test_mixing_attention_seed_and_key_scale():
    a, b = mixing_attention(3, seed=1), mixing_attention(3, seed=1)
    assert torch.equal(a.W_Q, b.W_Q) and torch.equal(a.W_K, b.W_K)
    assert not torch.equal(a.W_Q, mixing_attention(3, seed=2).W_Q)
    double = mixing_attention(3, key_scale=4.0, seed=1)
    torch.testing.assert_close(double.W_Q, 2 * a.W_Q)
    # key_scale 0: all scores vanish, every query averages the tokens uniformly
    flat = mixing_attention(3, key_scale=0.0, residual=False)
    Z = rand(3, 4, seed=1)
    with torch.no_grad():
        torch.testing.assert_close(flat(Z), Z.mean(dim=-1, keepdim=True).expand(3, 4))
    assert a.scale == 1.0  # scale "none" by default


# ------------------------------------------------------------------------ feed-forward


def _ff_weights(d: int = 3, hidden: int = 5, seed: int = 0):
    return (
        randn(hidden, d, seed=seed),
        randn(hidden, seed=seed + 1),
        randn(d, hidden, seed=seed + 2),
        randn(d, seed=seed + 3),
    )


def test_feed_forward_formula():
    W_1, b_1, W_2, b_2 = _ff_weights()
    ff = FeedForward.from_weights(W_1, b_1, W_2, b_2)
    Z = randn(3, 4, seed=9)
    expected = Z + W_2 @ torch.clamp(W_1 @ Z + b_1[:, None], min=0) + b_2[:, None]
    with torch.no_grad():
        torch.testing.assert_close(ff(Z), expected, rtol=1e-14, atol=1e-14)
        no_res = FeedForward.from_weights(W_1, b_1, W_2, b_2, residual=False)
        torch.testing.assert_close(no_res(Z), expected - Z, rtol=1e-14, atol=1e-14)
    # column by column, written out with explicit max(0, .)
    for j in range(4):
        h = [max(0.0, float(W_1[i] @ Z[:, j] + b_1[i])) for i in range(5)]
        col = [
            float(Z[r, j]) + sum(float(W_2[r, i]) * h[i] for i in range(5)) + float(b_2[r])
            for r in range(3)
        ]
        torch.testing.assert_close(ff(Z)[:, j].detach(), torch.tensor(col, dtype=F64))


def test_feed_forward_is_token_wise():
    ff = FeedForward(4, 7, seed=3)
    with torch.no_grad():
        ff.b_1.copy_(randn(7, seed=1))
        ff.b_2.copy_(randn(4, seed=2))
    Z = randn(2, 4, 6, seed=4)
    perm = torch.tensor([3, 0, 5, 1, 4, 2])
    with torch.no_grad():
        out = ff(Z)
        torch.testing.assert_close(ff(Z[..., perm]), out[..., perm], rtol=0, atol=1e-14)
        # each column depends on that column only
        torch.testing.assert_close(ff(Z[..., 2:3]), out[..., 2:3], rtol=0, atol=1e-14)


def test_feed_forward_random_init():
    ff = FeedForward(3, 8, seed=2)
    assert ff.W_1.shape == (8, 3) and ff.W_2.shape == (3, 8)
    assert torch.count_nonzero(ff.b_1) == 0 and torch.count_nonzero(ff.b_2) == 0
    assert torch.equal(FeedForward(3, 8, seed=2).W_1, ff.W_1)
    assert not torch.equal(FeedForward(3, 8, seed=3).W_1, ff.W_1)


# ------------------------------------------------------------------------- transformer


def _identity_ff(d: int) -> FeedForward:
    return FeedForward.from_weights(
        torch.zeros(2, d, dtype=F64),
        torch.zeros(2, dtype=F64),
        torch.zeros(d, 2, dtype=F64),
        torch.zeros(d, dtype=F64),
    )


def test_transformer_adds_positions_to_first_columns():
    d = 3
    E = randn(d, 5, seed=1)
    model = Transformer([_identity_ff(d)], positions=E)
    assert model.d == d
    Z = rand(d, 3, seed=2)
    torch.testing.assert_close(model(Z), Z + E[:, :3], rtol=0, atol=1e-15)
    Zb = rand(4, d, 5, seed=3)
    torch.testing.assert_close(model(Zb), Zb + E, rtol=0, atol=1e-15)
    with pytest.raises(ValueError, match="positions"):
        model(rand(d, 6))


def test_transformer_composes_layers_in_order():
    ff, attn = FeedForward(3, 6, seed=1), Attention(3, seed=2)
    model = Transformer([ff, attn, ff])
    assert model.positions is None
    Z = rand(2, 3, 4)
    with torch.no_grad():
        torch.testing.assert_close(model(Z), ff(attn(ff(Z))))
        torch.testing.assert_close(Transformer([attn])(Z), attn(Z))


def test_transformer_rejects_mixed_dimensions():
    with pytest.raises(ValueError, match="layers"):
        Transformer([FeedForward(3, 4), FeedForward(4, 4)])


def test_transformer_freeze_method():
    model = Transformer([FeedForward(2, 3), Attention(2)])
    assert model.freeze() is model
    assert all(not p.requires_grad for p in model.parameters())


# --------------------------------------------------------------------- build/freeze


def test_freeze_returns_model_and_stops_gradients():
    layer = Attention(3)
    assert all(p.requires_grad for p in layer.parameters())
    assert freeze(layer) is layer
    assert all(not p.requires_grad for p in layer.parameters())


def test_build_transformer_structure():
    model = build_transformer(3, blocks=2, hidden=5, head_size=2, heads=2, max_len=7)
    assert isinstance(model, Transformer)
    kinds = [type(layer) for layer in model.layers]
    assert kinds == [FeedForward, Attention, FeedForward] * 2
    assert model.layers[0].hidden == 5
    assert model.layers[1].head_size == 2 and model.layers[1].heads == 2
    assert model.positions.shape == (3, 7)
    default = build_transformer(4)
    assert default.layers[0].hidden == 16 and default.layers[1].head_size == 4
    assert default.positions is None


def test_build_transformer_deterministic_and_frozen():
    a = build_transformer(3, blocks=2, max_len=5, seed=4)
    b = build_transformer(3, blocks=2, max_len=5, seed=4)
    c = build_transformer(3, blocks=2, max_len=5, seed=5)
    sa, sb, sc = a.state_dict(), b.state_dict(), c.state_dict()
    assert sa.keys() == sb.keys() == sc.keys()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert all(not torch.equal(sa[k], sc[k]) for k in sa if "b_" not in k)  # biases are 0
    assert all(not p.requires_grad for p in a.parameters())
    assert len(list(a.parameters())) > 0
    X = rand(2, 3, 4)
    with torch.no_grad():
        torch.testing.assert_close(a(X), b(X), rtol=0, atol=0)
        assert not torch.allclose(a(X), c(X))


def test_build_transformer_same_weights_in_every_dtype():
    m64 = build_transformer(3, max_len=4, seed=2)
    m32 = build_transformer(3, max_len=4, seed=2, dtype=torch.float32)
    for (k, v64), (k32, v32) in zip(
        m64.state_dict().items(), m32.state_dict().items(), strict=True
    ):
        assert k == k32 and v32.dtype == torch.float32
        torch.testing.assert_close(v32, v64.to(torch.float32), rtol=0, atol=0)


def test_position_scale_scales_positions():
    a = build_transformer(2, max_len=6, position_scale=0.5, seed=1)
    b = build_transformer(2, max_len=6, position_scale=1.0, seed=1)
    torch.testing.assert_close(b.positions, 2 * a.positions)
    zero = build_transformer(2, max_len=6, position_scale=0.0, seed=1)
    assert torch.count_nonzero(zero.positions) == 0


# ---------------------------------------------------------------------- prompt tuning


@pytest.fixture
def model() -> Transformer:
    return build_transformer(3, blocks=2, max_len=12, seed=1)


def test_prompt_forward_single_prompt_shapes(model):
    P, X, Xb = randn(3, 4, seed=1), rand(3, 5, seed=2), rand(6, 3, 5, seed=3)
    with torch.no_grad():
        out = prompt_forward(model, P, X)
        assert out.shape == (3, 5)
        torch.testing.assert_close(out, model(torch.cat([P, X], dim=-1))[:, -5:])
        outb = prompt_forward(model, P, Xb)
        assert outb.shape == (6, 3, 5)
        for n in range(6):
            torch.testing.assert_close(outb[n], prompt_forward(model, P, Xb[n]))
        # the prompt matters
        assert not torch.allclose(out, prompt_forward(model, P + 1.0, X))


def test_prompt_forward_many_prompts_equal_separate_calls(model):
    R = 4
    Ps, X, Xb = randn(R, 3, 2, seed=4), rand(3, 5, seed=5), rand(6, 3, 5, seed=6)
    with torch.no_grad():
        out = prompt_forward(model, Ps, X)
        outb = prompt_forward(model, Ps, Xb)
        assert out.shape == (R, 3, 5)
        assert outb.shape == (R, 6, 3, 5)
        for r in range(R):
            torch.testing.assert_close(out[r], prompt_forward(model, Ps[r], X))
            torch.testing.assert_close(outb[r], prompt_forward(model, Ps[r], Xb))


def test_prompt_forward_empty_prompt_is_bare_model(model):
    X, Xb = rand(3, 5, seed=7), rand(2, 3, 5, seed=8)
    with torch.no_grad():
        torch.testing.assert_close(prompt_forward(model, torch.zeros(3, 0, dtype=F64), X), model(X))
        torch.testing.assert_close(
            prompt_forward(model, torch.zeros(3, 0, dtype=F64), Xb), model(Xb)
        )
        Ps = torch.zeros(2, 3, 0, dtype=F64)
        torch.testing.assert_close(prompt_forward(model, Ps, Xb), torch.stack([model(Xb)] * 2))


def test_prompt_forward_plain_callable_and_dtype():
    def model(Z):
        return Z.cumsum(dim=-1)  # a causal toy: column j sums columns 0..j

    P = torch.tensor([[1.0, 2.0]], dtype=torch.float32)
    X = torch.tensor([[10.0, 20.0, 30.0]], dtype=torch.float32)
    out = prompt_forward(model, P, X)
    assert out.dtype == torch.float32
    torch.testing.assert_close(out, torch.tensor([[13.0, 33.0, 63.0]]))
    # a frozen float64 model casts a float32 input to its own dtype
    m = build_transformer(1, seed=0)
    assert prompt_forward(m, P, X).dtype == F64


def test_prompt_tuning_gradient_reaches_prompt_only(model):
    P = randn(3, 3, seed=9).requires_grad_(True)
    X = rand(4, 3, 5, seed=10)
    loss = prompt_forward(model, P, X).pow(2).sum()
    loss.backward()
    assert P.grad is not None
    assert P.grad.shape == P.shape
    assert torch.isfinite(P.grad).all() and P.grad.abs().sum() > 0
    assert all(p.grad is None for p in model.parameters())
    # the gradient is the right one: a finite-difference check on one entry
    eps = 1e-6
    with torch.no_grad():
        Pp, Pm = P.detach().clone(), P.detach().clone()
        Pp[1, 2] += eps
        Pm[1, 2] -= eps
        fd = (
            prompt_forward(model, Pp, X).pow(2).sum() - prompt_forward(model, Pm, X).pow(2).sum()
        ) / (2 * eps)
    assert float(fd) == pytest.approx(float(P.grad[1, 2]), rel=1e-6, abs=1e-8)


def test_prompt_forward_with_module_without_d():
    class Doubler(nn.Module):
        def forward(self, Z):
            return 2 * Z

    P, X = rand(2, 1, seed=1), rand(3, 2, 4, seed=2)
    torch.testing.assert_close(prompt_forward(Doubler(), P, X), 2 * X)


def test_prompt_forward_moves_inputs_to_the_model_dtype_and_device():
    model = build_transformer(2, seed=0, dtype=torch.float32)
    X = torch.rand(3, 2, 4, dtype=torch.float64)
    P = torch.rand(2, 1, dtype=torch.float64)
    out = prompt_forward(model, P, X)
    assert out.dtype == torch.float32
    assert out.device == next(model.parameters()).device
    expected = model(torch.cat([P.expand(3, 2, 1), X], dim=-1).float())[..., -4:]
    assert torch.allclose(out, expected)


def test_torch_threads_sets_and_restores_the_count_even_on_error():
    from ptheory.model import torch_threads

    before = torch.get_num_threads()
    other = 1 if before != 1 else 2
    with torch_threads(other):
        assert torch.get_num_threads() == other
    assert torch.get_num_threads() == before
    with pytest.raises(RuntimeError, match="boom"), torch_threads(other):
        raise RuntimeError("boom")
    assert torch.get_num_threads() == before
    with torch_threads(None):
        assert torch.get_num_threads() == before
