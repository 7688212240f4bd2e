"""Prompt-tuning inference on the fast side of the norm criterion.

Serves Hu et al. (2025), the almost-linear inference result. In prompt tuning only the last
``L`` output columns of ``tau([P, X])`` are kept, so the attention layer needs queries from the
input columns only, while keys and values come from all ``n = L_p + L`` columns of ``[P, X]``.
The criterion takes ``B = max(||Q||_max, ||K||_max)`` (normalised to scores ``<q, k>/d``, ``d``
the dimension of a query or key, that is the head size: Alman and Song's convention and the
chapter's) and asks whether a degree that guarantees the target error costs less than exact
attention at this ``n`` (the almost-linear result needs ``B = o(sqrt(log n))``). The
hardness beyond the criterion (no truly sub-quadratic algorithm under SETH) is a statement
about ``d = Theta(log n)``, a small approximation gap and error ``1/poly(n)``, at
``B = C sqrt(log n)`` with a suitable constant ``C``; it says nothing about one fixed small
``d``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from .._validate import as_tensor, check_finite, check_matrix_batch, check_real
from ..model import Attention, FeedForward, ScoreScale, Transformer, resolve_scale
from ._inputs import check_degree, check_method, check_qkv
from .certificate import certify
from .degree import EXP_FLOPS, SEARCHED, exact_flops, poly_flops, select_degree
from .exact import exact_attention
from .polynomial import _score_radius, poly_attention, poly_error_bound

__all__ = ["NormCriterion", "PromptInference", "norm_criterion", "prompt_inference"]


@dataclass(frozen=True)
class NormCriterion:
    """The norm criterion as the almost-linear result uses it, at this ``n``.

    ``entry_bound`` = ``B`` (entries of the queries and keys once scores are written as
    ``<q, k> / d``); ``threshold`` = ``sqrt(ln n)`` (for reference: the theorem's hypothesis
    is ``B = o(sqrt(log n))``, an asymptotic statement, not a cut-off at one ``n``);
    ``degree``/``rank``: the smallest degree whose proved error at ``R = B^2`` is at most
    ``eps`` (``-1``/``0`` if none up to 64; certified, :func:`~ptheory.efficiency.select_degree`);
    ``poly_flops``/``exact_flops``: the cost model at these sizes. ``holds`` when that
    degree exists and its cost is below exact attention's: a guaranteed ``eps`` at a cost
    that pays. ``method`` is the polynomial that degree uses (``""`` if none).
    """

    entry_bound: float
    threshold: float
    n: int
    eps: float
    degree: int
    rank: int
    poly_flops: float
    exact_flops: float
    holds: bool
    method: str = ""

    @property
    def bound(self) -> float:
        """Former name of :attr:`entry_bound`."""
        return self.entry_bound

    @property
    def ratio(self) -> float:
        """``B / sqrt(ln n)`` (``inf`` for a single key)."""
        return self.entry_bound / self.threshold if self.threshold > 0 else math.inf


def norm_criterion(
    Q: torch.Tensor,
    K: torch.Tensor,
    *,
    scale: ScoreScale = "1/d",
    eps: float = 1e-3,
    method: str = "chebyshev",
    exp_flops: float = EXP_FLOPS,
) -> NormCriterion:
    """The norm criterion for queries ``Q: (..., n_q, d)`` and keys ``K: (..., n, d)``.

    ``B = sqrt(scale * d) * max(||Q||_max, ||K||_max)``: the bound on the entries once the
    scores are written as ``<q~, k~> / d`` (for ``scale = 1/d`` this is the plain max).
    It holds when some degree guarantees ``eps`` (per unit of ``max|V|``, exact arithmetic,
    the certified bound of :func:`~ptheory.efficiency.select_degree` for ``method``, which
    may be ``"best"``) for every input with entries in ``[-B, B]`` and
    :func:`~ptheory.efficiency.poly_flops`
    of the smallest such degree is below :func:`~ptheory.efficiency.exact_flops`, which
    charges each exponential ``exp_flops`` flops: an assumption of the cost model (default
    :data:`~ptheory.efficiency.EXP_FLOPS`), on which the verdict near the crossover depends.
    """
    Q, K, _, _ = check_qkv(Q, K, K)
    eps = check_real(eps, "eps", minimum=0.0, strict_minimum=True)
    method = method if method == "best" else check_method(method)
    d, n, n_q = Q.shape[-1], K.shape[-2], Q.shape[-2]
    s = resolve_scale(scale, d)
    raw = max(float(Q.abs().max()) if Q.numel() else 0.0, float(K.abs().max()))
    B = math.sqrt(s * d) * raw
    threshold = math.sqrt(math.log(n))
    exact = exact_flops(n_q, n, d, exp_flops=exp_flops)
    try:
        plan = select_degree(B, eps, d, method=method)
    except ValueError:
        return NormCriterion(B, threshold, n, eps, -1, 0, math.inf, exact, False)
    cost = poly_flops(n_q, n, d, plan.degree)
    return NormCriterion(
        B, threshold, n, eps, plan.degree, plan.rank, cost, exact, cost < exact, plan.method
    )


@dataclass(frozen=True)
class PromptInference:
    """Result of :func:`prompt_inference`.

    ``output``: the model's last ``L`` columns, ``(d, L)`` or ``(N, d, L)``. ``fast``: the
    polynomial path ran. ``degrees``/``ranks``/``methods``: per head (empty on the exact
    path).
    ``error_bound``: proved max-abs bound on ``output`` minus the exact output: on the fast
    path the heads' :func:`~ptheory.efficiency.poly_error_bound` (computed output, rounding
    included) through the later layers' Lipschitz constants (their own rounding not
    counted); 0 on the exact path, up to rounding.
    """

    output: torch.Tensor
    criterion: NormCriterion
    fast: bool
    degrees: tuple[int, ...]
    ranks: tuple[int, ...]
    error_bound: float
    methods: tuple[str, ...] = ()


def _inf_norm(M: torch.Tensor) -> float:
    return float(M.abs().sum(dim=-1).max())


def _split_model(model: object) -> tuple[list, Attention, list, torch.Tensor | None]:
    if isinstance(model, Attention):
        return [], model, [], None
    if not isinstance(model, Transformer):
        raise TypeError(
            f"model must be a ptheory Attention layer or Transformer, got {type(model).__name__}"
        )
    layers = list(model.layers)
    where = [i for i, layer in enumerate(layers) if isinstance(layer, Attention)]
    if len(where) != 1 or not all(isinstance(layer, Attention | FeedForward) for layer in layers):
        raise ValueError(
            "model must have exactly one Attention layer, the others FeedForward "
            f"(like FF o Attn o FF), got {[type(layer).__name__ for layer in layers]}"
        )
    i = where[0]
    return layers[:i], layers[i], layers[i + 1 :], model.positions


def _heads(layer: Attention, queries: torch.Tensor, Z: torch.Tensor):
    """Row-layout ``(Q_h, K_h, V_h)`` of every head: ``(..., heads, tokens, features)``."""
    q = (layer.W_Q @ queries.unsqueeze(-3)).transpose(-1, -2)
    k = (layer.W_K @ Z.unsqueeze(-3)).transpose(-1, -2)
    v = (layer.W_O @ (layer.W_V @ Z.unsqueeze(-3))).transpose(-1, -2)
    return q, k, v


def _plan_head(
    R: float,
    v_max: float,
    share: float,
    method: str,
    d: int,
    n_q: int,
    n: int,
    degree: int | None,
) -> tuple[int, str]:
    """(degree, method) for one head: ``degree`` if given, else the smallest degree whose
    certified bound (:func:`~ptheory.efficiency.certify` at the head's score radius ``R``)
    meets ``share`` among those whose cost (:func:`poly_flops`) is below exact
    attention's, else the largest of those (0 if none); ``method="best"`` takes, at each
    degree, the polynomial with the smallest bound."""
    methods = SEARCHED if method == "best" else (method,)

    def best(g: int) -> tuple[float, str]:
        return min((certify(g, R, m).attention_error * v_max, m) for m in methods)

    if degree is not None:
        return degree, best(degree)[1]
    exact = exact_flops(n_q, n, d)
    g = 0
    while best(g)[0] > share and g < 64 and poly_flops(n_q, n, d, g + 1) < exact:
        g += 1
    return g, best(g)[1]


def prompt_inference(
    model: Attention | Transformer,
    P: torch.Tensor,
    X: torch.Tensor,
    *,
    eps: float = 1e-3,
    method: str = "taylor",
    path: str = "auto",
    degree: int | None = None,
) -> PromptInference:
    """Prompt tuning's forward pass with the polynomial method when the norm criterion holds.

    ``model`` is an :class:`~ptheory.model.Attention` layer or a
    :class:`~ptheory.model.Transformer` with one attention layer (``FF o Attn o FF``);
    ``P: (d, L_p)``, ``X: (d, L)`` or ``(N, d, L)`` (tokens are columns). Equals
    ``prompt_forward(model, P, X)`` up to ``error_bound``. ``path``: ``"auto"`` (fast iff
    the criterion holds and some degree up to 64 guarantees ``eps``), ``"poly"`` or
    ``"exact"`` to force one. ``eps`` is the requested max-abs error of the attention
    output, shared equally by the heads; the degree of each head is the smallest whose proved
    bound meets its share among those whose cost :func:`~ptheory.efficiency.poly_flops`
    is below :func:`~ptheory.efficiency.exact_flops` (``d`` = the head size, the dimension
    of a query or key), or ``degree`` when given. Later feed-forward
    layers multiply the bound by their Lipschitz constant in the max norm,
    ``1 + ||W_2||_inf ||W_1||_inf``.
    """
    before, layer, after, positions = _split_model(model)
    eps = check_real(eps, "eps", minimum=0.0, strict_minimum=True)
    method = method if method == "best" else check_method(method)
    if path not in ("auto", "poly", "exact"):
        raise ValueError(f"path must be 'auto', 'poly' or 'exact', got {path!r}")
    if degree is not None:
        degree = check_degree(degree)
    dtype, device = layer.W_Q.dtype, layer.W_Q.device
    X = check_finite(as_tensor(X, "X", dtype=dtype, device=device), "X")
    check_matrix_batch(X, "X", ndim=(2, 3), layout="(N, d, L) or (d, L)", rows=layer.d)
    P = check_finite(as_tensor(P, "P", dtype=dtype, device=device), "P")
    check_matrix_batch(P, "P", ndim=2, layout="(d, L_p)", rows=layer.d)
    L = X.shape[-1]
    if L == 0:
        raise ValueError("X must have at least one column")
    Z = torch.cat([P.expand(*X.shape[:-1], P.shape[-1]), X], dim=-1)
    with torch.no_grad():
        if positions is not None:
            if Z.shape[-1] > positions.shape[-1]:
                raise ValueError(
                    f"P and X have {Z.shape[-1]} columns but positions cover {positions.shape[-1]}"
                )
            Z = Z + positions[:, : Z.shape[-1]].to(dtype)
        for ff in before:
            Z = ff(Z)
        queries = Z[..., -L:]
        q, k, v = _heads(layer, queries, Z)
        crit = norm_criterion(q, k, scale=layer.scale, eps=eps / layer.heads, method=method)
        n, d_head = Z.shape[-1], layer.head_size
        plan: list[tuple[int, str, float]] = []
        if path != "exact":
            s = resolve_scale(layer.scale, d_head)
            for h in range(layer.heads):
                qh, kh, vh = q[..., h, :, :], k[..., h, :, :], v[..., h, :, :]
                R = _score_radius(qh, kh, s)
                v_max = float(vh.abs().max())
                g, m = _plan_head(R, v_max, eps / layer.heads, method, d_head, L, n, degree)
                # the bound on the computed head output, rounding included
                plan.append((g, m, poly_error_bound(qh, kh, vh, g, m, scale=layer.scale)))
        fast = path == "poly" or (
            path == "auto" and crit.holds and all(b <= eps / layer.heads for _, _, b in plan)
        )
        if fast:
            heads = [
                poly_attention(
                    q[..., h, :, :], k[..., h, :, :], v[..., h, :, :], g, m, scale=layer.scale
                )
                for h, (g, m, _) in enumerate(plan)
            ]
            att = torch.stack(heads, dim=-3).sum(dim=-3)
            bound = sum(b for _, _, b in plan)
        else:
            att = exact_attention(q, k, v, scale=layer.scale).sum(dim=-3)
            bound = 0.0
        out = att.transpose(-1, -2)
        if layer.residual:
            out = out + queries
        for ff in after:
            out = ff(out)
            lip = _inf_norm(ff.W_2) * _inf_norm(ff.W_1)
            bound *= lip + 1.0 if ff.residual else lip
    degrees = tuple(g for g, _, _ in plan) if fast else ()
    ranks = tuple(math.comb(layer.head_size + g, g) for g in degrees)
    methods = tuple(m for _, m, _ in plan) if fast else ()
    return PromptInference(out, crit, fast, degrees, ranks, bound, methods)
