"""The fixed layers of the universality construction, built from :mod:`ptheory.model`.

The model is ``tau = FF_2 o Attn o FF_1`` run on ``[P, X] + E`` (this book's
reconstruction of the construction behind Hu et al. 2025, Theorems 2.1 and 2.2):

* positions ``E``: column ``i`` gets ``2 i`` added to its first entry, so a token's first
  entry ``t = x_1 + 2 i`` tells both its value and its position;
* :func:`ff1_layer` (``FF_1``, token-wise): ReLU staircases quantize every entry and
  map the token to an integer code ``a = A + i V + m`` where ``m`` in ``[0, V)`` numbers
  the token's cell (``V = V1^d``) and ``A = 10 n V``: prompt and input tokens, and all
  positions, occupy disjoint code ranges;
* :func:`contextual_attention` (``Attn``, one head, score scale ``"none"``):
  ``W_K^T W_Q = beta e_1 e_1^T`` (rank
  one) or ``beta I`` (full rank), values ``W_O W_V = e_1 e_1^T``; column ``k`` becomes
  ``a_k + sum_i a_i softmax_i(beta a_i a_k)``, the query's code plus a Boltzmann average of
  all codes (Kajitsuka and Sato 2024);
* ``FF_2``, a token-wise table from the contextual code to the output: :func:`ff2_wide`
  (one wide layer, two ReLUs per code) or :func:`ff2_deep` (a stack of narrow layers, four
  ReLUs per code), which compute the same function on the codes. A token-wise layer sees
  one scalar code per column, so it can only decode the code by tabulating it.
"""

from __future__ import annotations

import math

import torch

from .._validate import check_int, check_real
from ..model import Attention, FeedForward
from .grid import levels

__all__ = [
    "clamp_layer",
    "code_offset",
    "contextual_attention",
    "ff1_layer",
    "ff1_width",
    "ff2_deep",
    "ff2_wide",
    "position_offsets",
]

F64 = torch.float64


def code_offset(d: int, n: int, delta: float) -> int:
    """``A = 10 n V``: the smallest token code. Codes lie in ``[A, 1.1 A)``, far above
    ``[0, 1]`` and close together in ratio, so every query sees nearly the same softmax
    temperature ``beta a_k``."""
    return 10 * n * levels(delta) ** d


def position_offsets(d: int, n: int) -> torch.Tensor:
    """``E: (d, n)`` with ``E[0, i] = 2 i`` and zeros elsewhere."""
    E = torch.zeros(d, n, dtype=F64)
    E[0] = 2.0 * torch.arange(n, dtype=F64)
    return E


def _steps(thetas, eta):
    """Hidden rows of ``ReLU((t - theta)/eta) - ReLU((t - theta)/eta - 1)``: weight, biases."""
    th = torch.as_tensor(thetas, dtype=F64)
    w = torch.full_like(th, 1.0 / eta)
    return w, -th / eta, -th / eta - 1.0


def ff1_width(d: int, n: int, delta: float) -> int:
    """Hidden width of :func:`ff1_layer`: ``2 d + 2 (n (V1 - 1) + n - 1) + 2 (d - 1)(V1 - 1)``
    (residual cancelled, level and position steps of coordinate 1, level steps of the rest)."""
    d = check_int(d, "d", minimum=1)
    n = check_int(n, "n", minimum=1)
    v1 = levels(delta)
    return 2 * d + 2 * (n * (v1 - 1) + n - 1) + 2 * (d - 1) * (v1 - 1)


def ff1_layer(d: int, n: int, delta: float, *, eta: float = 1e-7) -> FeedForward:
    """``FF_1``: quantize each token of ``[P, X] + E`` and replace it by its code.

    Output column ``i``: first entry ``A + i V + m`` (``m = sum_j level_j V1^(j-1)``, the
    levels ``floor(x_j / delta)``), entries ``j >= 2`` the cell centres of ``x_j``. Each
    step is a ReLU ramp of width ``eta`` starting at its threshold: the layer is exact
    except for entries within ``eta`` above a cell boundary. Hidden width
    :func:`ff1_width`.
    """
    d = check_int(d, "d", minimum=1)
    n = check_int(n, "n", minimum=1)
    eta = check_real(eta, "eta", minimum=0.0, strict_minimum=True)
    v1 = levels(delta)
    delta = 1.0 / v1
    V = v1**d
    rows_w1, rows_b1, cols_w2 = [], [], []

    def add(coord, w, b, out):  # one hidden unit reading coordinate `coord`
        row = torch.zeros(d, dtype=F64)
        row[coord] = w
        rows_w1.append(row)
        rows_b1.append(b)
        cols_w2.append(out)

    for j in range(d):  # cancel the residual: -ReLU(z) + ReLU(-z) = -z
        e = torch.zeros(d, dtype=F64)
        e[j] = 1.0
        add(j, 1.0, 0.0, -e)
        add(j, -1.0, 0.0, e)
    # coordinate 1: t = x_1 + 2 i, level steps at 2 i + r delta, position jumps at 2 i + 1.5
    thetas, heights = [], []
    for i in range(n):
        thetas += [2 * i + r * delta for r in range(1, v1)]
        heights += [1.0] * (v1 - 1)
        if i < n - 1:
            thetas.append(2 * i + 1.5)
            heights.append(float(V - v1 + 1))
    w, b_up, b_dn = _steps(thetas, eta)
    for k, h in enumerate(heights):
        out = torch.zeros(d, dtype=F64)
        out[0] = h
        add(0, float(w[k]), float(b_up[k]), out)
        add(0, float(w[k]), float(b_dn[k]), -out)
    # coordinates j >= 2: level steps at r delta, into the code and into the centre
    for j in range(1, d):
        w, b_up, b_dn = _steps([r * delta for r in range(1, v1)], eta)
        for k in range(v1 - 1):
            out = torch.zeros(d, dtype=F64)
            out[0] = float(v1**j)
            out[j] = delta
            add(j, float(w[k]), float(b_up[k]), out)
            add(j, float(w[k]), float(b_dn[k]), -out)
    b2 = torch.full((d,), delta / 2, dtype=F64)
    b2[0] = float(code_offset(d, n, delta))
    if len(rows_w1) != ff1_width(d, n, delta):
        raise RuntimeError("ff1_layer built a width that ff1_width does not give")
    return FeedForward.from_weights(
        torch.stack(rows_w1), torch.tensor(rows_b1, dtype=F64), torch.stack(cols_w2, dim=1), b2
    )


def contextual_attention(d: int, beta: float, *, rank: str = "one") -> Attention:
    """``Attn`` with ``W_K^T W_Q = beta e_1 e_1^T`` (``rank="one"``) or ``beta I``
    (``rank="full"``), and ``W_O W_V = e_1 e_1^T``; the model's score scale is ``"none"``
    (``beta`` is the only temperature)."""
    d = check_int(d, "d", minimum=1)
    beta = check_real(beta, "beta", minimum=0.0)
    if rank not in ("one", "full"):
        raise ValueError(f"rank must be 'one' or 'full', got {rank!r}")
    e1 = torch.zeros(1, d, dtype=F64)
    e1[0, 0] = 1.0
    root = math.sqrt(beta)
    if rank == "one":
        return Attention.from_weights(root * e1, root * e1, e1.clone(), e1.T.clone())
    eye = torch.eye(d, dtype=F64)
    return Attention.from_weights(root * eye, root * eye.clone(), e1.T @ e1, eye.clone())


def _sorted_gaps(codes: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    gaps = codes.diff()
    lo = torch.cat([gaps[:1], gaps]) if gaps.numel() else torch.ones(1, dtype=F64)
    hi = torch.cat([gaps, gaps[-1:]]) if gaps.numel() else torch.ones(1, dtype=F64)
    return lo, hi


def ff2_wide(codes: torch.Tensor, values: torch.Tensor) -> FeedForward:
    """``FF_2`` as one wide layer: each sorted code ``codes[m]`` (first entry) to ``values[m]``.

    ``FF(z) = z - z + v_1 + sum_m (v_m - v_{m-1}) ramp_m(z_1)``: the residual is cancelled
    and a staircase with a ramp in the middle half of every gap between consecutive codes
    takes the values; off the codes the output interpolates between neighbouring values,
    so it stays in their range. ``codes: (K,)`` increasing, ``values: (K, d)``. Hidden
    width ``2 d + 2 (K - 1)``.
    """
    K, d = values.shape
    W1 = [torch.zeros(2 * d, d, dtype=F64)]
    for j in range(d):
        W1[0][2 * j, j], W1[0][2 * j + 1, j] = 1.0, -1.0
    b1 = [torch.zeros(2 * d, dtype=F64)]
    W2 = [torch.zeros(d, 2 * d, dtype=F64)]
    for j in range(d):
        W2[0][j, 2 * j], W2[0][j, 2 * j + 1] = -1.0, 1.0
    if K > 1:
        width = (codes[1:] - codes[:-1]) / 2  # ramp over the middle half of each gap
        start = codes[:-1] + width / 2
        w = torch.zeros(2 * (K - 1), d, dtype=F64)
        w[:, 0] = (1.0 / width).repeat_interleave(2)
        b = torch.stack([-start / width, -start / width - 1.0], dim=1).reshape(-1)
        jump = values[1:] - values[:-1]
        cols = torch.stack([jump, -jump], dim=1).reshape(-1, d).T
        W1.append(w)
        b1.append(b)
        W2.append(cols)
    return FeedForward.from_weights(
        torch.cat(W1), torch.cat(b1), torch.cat(W2, dim=1), values[0].clone()
    )


def ff2_deep(
    codes: torch.Tensor, values: torch.Tensor, tokens: torch.Tensor, depth: int
) -> list[FeedForward]:
    """``FF_2`` as ``depth`` narrow layers: each code's token ``tokens[m]`` to ``values[m]``.

    Layer by layer, from the highest codes down, each adds ``(v_m - z_m) bump_m(z_1)`` for
    its share of the codes, with a trapezoid bump (4 ReLUs) that is one on the middle half
    of the code's gaps and zero beyond. A token once mapped lies in ``[0, 1]^d``, below
    every code, so no later bump moves it. Hidden width ``4 ceil(K / depth)`` each.
    """
    K, d = values.shape
    depth = check_int(depth, "depth", minimum=1, maximum=K)
    lo, hi = _sorted_gaps(codes)
    a, b = codes - lo / 2, codes - lo / 4
    c, e = codes + hi / 4, codes + hi / 2
    order = torch.arange(K - 1, -1, -1)
    layers = []
    for chunk in torch.tensor_split(order, depth):
        m = chunk
        W1 = torch.zeros(4 * len(m), d, dtype=F64)
        wl, wr = 1.0 / (b[m] - a[m]), 1.0 / (e[m] - c[m])
        W1[:, 0] = torch.stack([wl, wl, wr, wr], dim=1).reshape(-1)
        b1 = torch.stack([-a[m] * wl, -b[m] * wl, -c[m] * wr, -e[m] * wr], dim=1).reshape(-1)
        jump = values[m] - tokens[m]  # (len, d)
        sign = torch.tensor([1.0, -1.0, -1.0, 1.0], dtype=F64)
        W2 = (jump[:, None, :] * sign[None, :, None]).reshape(-1, d).T
        layers.append(FeedForward.from_weights(W1, b1, W2.contiguous(), torch.zeros(d, dtype=F64)))
    return layers


def clamp_layer(d: int) -> FeedForward:
    """``FF(z) = z + ReLU(-z) - ReLU(z - 1)``: clamps every entry into ``[0, 1]``."""
    d = check_int(d, "d", minimum=1)
    eye = torch.eye(d, dtype=F64)
    W1 = torch.cat([-eye, eye])
    b1 = torch.cat([torch.zeros(d, dtype=F64), -torch.ones(d, dtype=F64)])
    W2 = torch.cat([eye, -eye], dim=1)
    return FeedForward.from_weights(W1, b1, W2, torch.zeros(d, dtype=F64))
