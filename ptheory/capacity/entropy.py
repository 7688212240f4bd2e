"""The entropy identity: what a prompt of ``L_p`` tokens can do to one query (the book's lemma).

For one query token ``x`` and prompt columns ``p_1, ..., p_{L_p}`` a single head scores the
prompt by ``z_j = s p_j^T W_K^T W_Q x``. With ``w = softmax(z)`` and the prompt's log softmax
mass ``log T = log sum_j exp(z_j)``,

    log T = sum_j w_j z_j + H(w),        0 <= H(w) <= log L_p,

because ``log w_j = z_j - log T``. The mean score is linear in the prompt's mean column
``pbar = sum_j w_j p_j``: ``sum_j w_j z_j = s pbar^T W_K^T W_Q x``. When ``M = W_O W_V`` is
invertible, ``pbar = M^{-1} a`` with ``a = Att(x, P) = M pbar``, so the mean score is a linear
function ``theta . a`` of the prompt's attention output, ``theta = s M^{-T} W_K^T W_Q x``
(:func:`~ptheory.capacity.single_layer.score_direction`), and a prompt of length ``L_p``
reaches exactly the pairs ``(a, T)`` with

    0 <= log T - theta . a <= log L_p

(``= 0`` for ``L_p = 1``; ``(0, log L_p]`` for ``L_p >= 2`` when ``W_K^T W_Q x != 0``).

:func:`prompt_summary` computes the four quantities of the identity for a given prompt;
:func:`reachable_prompt` builds a prompt for a given pair; :func:`length_lower_bound` turns
the constraint into a proved lower bound on the prompt length of an exact fit. For examples
that share their query token, every prompt acts through one pair, so the best loss of a
prompt of ``L_p`` tokens is a ``d + 1``-dimensional problem in ``(a, u = log T)``:
:func:`reduced_loss` evaluates it, :func:`reachable_search` minimises it (for many datasets
at once), and :func:`one_token_multiplier` says, from the best one-token pair alone,
whether a second token helps.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from .._validate import as_tensor, check_finite, check_int, check_matrix_batch, check_real
from ..model import Transformer, prompt_forward
from .engine import check_dataset, fit_loss
from .optim import batched_lbfgs, on_one_thread
from .single_layer import (
    attention_layer,
    ff_contraction,
    ff_inverse,
    score_direction,
    single_layer_parts,
)

__all__ = [
    "IdentityCheck",
    "OneTokenMultiplier",
    "PromptSummary",
    "ReachablePoint",
    "identity_check",
    "length_lower_bound",
    "one_token_multiplier",
    "prompt_summary",
    "reachable_loss",
    "reachable_prompt",
    "reachable_search",
    "reduced_loss",
    "score_direction",
]


@dataclass(frozen=True)
class PromptSummary:
    """The entropy identity for one prompt and one query.

    Attributes:
        a: the prompt's attention output ``Att(x, P) = W_O W_V P w``, ``(d,)``.
        log_mass: ``log T = logsumexp(z)``, the prompt's log softmax mass.
        mean_score: ``sum_j w_j z_j``.
        entropy: ``H(w) = -sum_j w_j log w_j``, in ``[0, log L_p]``.
        weights: ``w = softmax(z)``, ``(L_p,)``.
    """

    a: torch.Tensor
    log_mass: float
    mean_score: float
    entropy: float
    weights: torch.Tensor


def prompt_summary(model: object, P: torch.Tensor, x: torch.Tensor) -> PromptSummary:
    """The quantities of the entropy identity for prompt ``P: (d, L_p)`` and query ``x: (d,)``.

    ``model`` is a one-head ``Attention`` layer or a ``Transformer`` (its first attention
    layer is used). The entropy is computed from the weights alone (``0 log 0 = 0``), the log
    mass with ``logsumexp``, so ``log_mass == mean_score + entropy`` is a check, not a
    definition.
    """
    _, attn = attention_layer(model)
    P = check_finite(as_tensor(P, "P", dtype=attn.W_Q.dtype), "P")
    check_matrix_batch(P, "P", ndim=2, rows=attn.d, layout="(d, L_p)")
    if P.shape[1] == 0:
        raise ValueError("P must have at least one column")
    x = check_finite(as_tensor(x, "x", dtype=attn.W_Q.dtype), "x")
    if x.dim() == 2 and x.shape[1] == 1:
        x = x[:, 0]
    if x.shape != (attn.d,):
        raise ValueError(f"x must have shape ({attn.d},) or ({attn.d}, 1), got {tuple(x.shape)}")
    with torch.no_grad():
        z = attn.scores(x[:, None], P)[0, :, 0]  # (L_p,)
        w = torch.softmax(z, dim=0)
        a = attn.W_O[0] @ attn.W_V[0] @ (P @ w)
        logw = torch.where(w > 0, w.log(), torch.zeros_like(w))
        entropy = float(-(w * logw).sum())
    return PromptSummary(
        a=a,
        log_mass=float(torch.logsumexp(z, dim=0)),
        mean_score=float((w * z).sum()),
        entropy=entropy,
        weights=w,
    )


def _entropy_of_lead(gamma: float, n: int) -> float:
    """Entropy of ``softmax(gamma, 0, ..., 0)`` over ``n`` entries (``gamma >= 0``)."""
    lse = gamma + math.log1p((n - 1) * math.exp(-gamma))
    w1 = math.exp(gamma - lse)
    return lse - gamma * w1


def reachable_prompt(
    model: object, x: torch.Tensor, a: torch.Tensor, h: float, prompt_length: int
) -> torch.Tensor:
    """A prompt of ``prompt_length`` tokens with attention output ``a`` and entropy ``h`` on
    the query ``x``: the converse half of the entropy identity, as a construction.

    With ``M = W_O W_V`` invertible, ``pbar = M^{-1} a`` and ``q = s W_K^T W_Q x``: for
    ``L_p = 1`` (``h = 0``) the prompt is ``pbar``; for ``L_p >= 2`` and
    ``0 < h <= log L_p`` (``q != 0``) its columns are ``p_j = pbar + beta_j q / ||q||^2``
    with ``beta = (gamma, 0, ..., 0) - mu``, ``mu`` the mean of ``(gamma, 0, ..., 0)`` under
    its own softmax and ``gamma >= 0`` found by bisection so that the softmax has entropy
    ``h``. Then ``Att(x, P) = a`` and ``log T = g . a + h``. ``x: (d,)``, ``a: (d,)``;
    returns ``P: (d, L_p)``. Raises ``ValueError`` for an ``h`` outside the range of the
    length (``0`` for one token, ``(0, log L_p]`` otherwise).
    """
    _, attn = attention_layer(model)
    dtype = attn.W_Q.dtype
    x = check_finite(as_tensor(x, "x", dtype=dtype), "x")
    if x.shape != (attn.d,):
        raise ValueError(f"x must have shape ({attn.d},), got {tuple(x.shape)}")
    a = check_finite(as_tensor(a, "a", dtype=dtype), "a")
    if a.shape != (attn.d,):
        raise ValueError(f"a must have shape ({attn.d},), got {tuple(a.shape)}")
    n = check_int(prompt_length, "prompt_length", minimum=1)
    h = check_real(h, "h", minimum=0.0, maximum=math.log(n))
    score_direction(attn, x)  # raises unless M = W_O W_V is invertible
    with torch.no_grad():
        M = attn.W_O[0] @ attn.W_V[0]
        pbar = torch.linalg.solve(M, a)
        if n == 1:
            if h != 0.0:
                raise ValueError(f"h must be 0 for a one-token prompt, got {h}")
            return pbar[:, None].clone()
        if h == 0.0:
            raise ValueError(f"h must be positive for prompt_length >= 2, got {h}")
        q = attn.key_query_matrix()[0] @ x * attn.scale
        if float(q.norm()) == 0.0:
            raise ValueError("x must have W_K^T W_Q x != 0 for a prompt of two or more tokens")
        lo, hi = 0.0, 1.0
        while _entropy_of_lead(hi, n) > h:
            hi *= 2.0
            if hi > 1e6:
                raise ValueError(f"h = {h:.3g} is too small to reach in float64")
        for _ in range(200):  # entropy decreases with gamma
            mid = 0.5 * (lo + hi)
            if _entropy_of_lead(mid, n) > h:
                lo = mid
            else:
                hi = mid
        gamma = 0.5 * (lo + hi)
        lead = torch.zeros(n, dtype=dtype)
        lead[0] = gamma
        w = torch.softmax(lead, dim=0)
        beta = lead - (w * lead).sum()
        return pbar[:, None] + q[:, None] * beta[None] / (q @ q)


@dataclass(frozen=True)
class _Pieces:
    """What the reduced problem of one dataset needs (``N`` examples, ``d`` dimensions)."""

    b: torch.Tensor  # (N, d) Att(x_i, X_i)
    e: torch.Tensor  # (N, d) c_i - b_i
    log_E: torch.Tensor  # (N,) log mass of x_i on X_i
    theta: torch.Tensor  # (N, d) score directions of the queries
    x: torch.Tensor  # (N, d) the query tokens
    y: torch.Tensor  # (N, d) the targets of the last column
    W_1: torch.Tensor  # (H, d) the feed-forward layer's weights
    b_1: torch.Tensor  # (H,)
    W_2: torch.Tensor  # (d, H)
    b_2: torch.Tensor  # (d,)


def _pieces(model: object, X: torch.Tensor, Y: torch.Tensor) -> _Pieces:
    attn, ff = single_layer_parts(model)
    X, Y = check_dataset(model, X, Y)
    if Y.shape[-1] != 1:
        raise ValueError(f"Y must target the last column only, shape (N, d, 1), got {Y.shape}")
    if ff_contraction(ff) >= 1.0:
        raise ValueError("model must have an invertible FF (||W_2|| ||W_1|| < 1)")
    with torch.no_grad():
        q = X[:, :, -1:]
        b = attn.attend(q, X)[..., 0]
        log_E = torch.logsumexp(attn.scores(q, X)[:, 0, :, 0], dim=-1)
        c = ff_inverse(ff, Y)[..., 0] - X[:, :, -1]
        theta = torch.stack([score_direction(attn, x) for x in X[:, :, -1]])
        return _Pieces(
            b=b,
            e=c - b,
            log_E=log_E,
            theta=theta,
            x=X[:, :, -1].clone(),
            y=Y[..., 0].clone(),
            W_1=ff.W_1.detach().clone(),
            b_1=ff.b_1.detach().clone(),
            W_2=ff.W_2.detach().clone(),
            b_2=ff.b_2.detach().clone(),
        )


def _shared_query_pieces(model: object, X: torch.Tensor, Y: torch.Tensor) -> _Pieces:
    pc = _pieces(model, X, Y)
    if not torch.equal(pc.x, pc.x[:1].expand_as(pc.x)):
        raise ValueError("X must share its last token x_0 across all examples")
    return pc


def _stack(pieces: Sequence[_Pieces]) -> _Pieces:
    """The pieces of ``K`` datasets of one shape, stacked along a leading dimension."""
    shapes = {(p.b.shape, p.W_1.shape) for p in pieces}
    if len(shapes) != 1:
        raise ValueError(
            "problems must share the number of examples, the dimension and the hidden width"
        )
    fields = _Pieces.__dataclass_fields__
    return _Pieces(**{k: torch.stack([getattr(p, k) for p in pieces]) for k in fields})


def _reduced(st: _Pieces, idx: torch.Tensor, a: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    """The loss of the pairs ``(a, u = log T)``: ``a: (B, d)``, ``u: (B,)``, run ``r`` on
    problem ``idx[r]`` of the stack. ``(1/N) sum_i ||FF(x_0 + b_i + lam_i (a - b_i)) - y_i||^2``
    with ``lam_i = T / (T + E_i)``, by the segment lemma the loss of every prompt whose
    pair on the shared query is ``(a, T)``."""
    lam = torch.sigmoid(u[:, None] - st.log_E[idx])  # (B, N)
    b = st.b[idx]  # (B, N, d)
    z = st.x[idx] + b + lam[..., None] * (a[:, None] - b)  # x_0 + attention output
    hid = torch.relu(torch.einsum("bhd,bnd->bnh", st.W_1[idx], z) + st.b_1[idx][:, None])
    out = z + torch.einsum("bdh,bnh->bnd", st.W_2[idx], hid) + st.b_2[idx][:, None]
    return (out - st.y[idx]).pow(2).sum(-1).mean(-1)


def reduced_loss(
    model: Transformer,
    X: torch.Tensor,
    Y: torch.Tensor,
    a: torch.Tensor,
    log_mass: torch.Tensor | float,
) -> torch.Tensor:
    """The loss of every prompt whose pair on the shared query is ``(a, T)``.

    ``X: (N, d, L)`` with one shared last token ``x_0``, ``Y: (N, d, 1)``; ``a: (..., d)``
    the prompt's attention output ``Att(x_0, P)`` and ``log_mass: (...)`` its log softmax
    mass ``log T`` on ``x_0``. By the segment lemma the loss of a prompt depends on it only
    through this pair: ``(1/N) sum_i ||FF(x_0 + b_i + lam_i (a - b_i)) - y_i||^2`` with
    ``lam_i = T / (T + E_i)``. Returns the losses, shape ``(...)``.
    """
    pc = _shared_query_pieces(model, X, Y)
    d = pc.b.shape[1]
    a = check_finite(as_tensor(a, "a", dtype=pc.b.dtype), "a")
    if a.dim() == 0 or a.shape[-1] != d:
        raise ValueError(f"a must have shape (..., {d}), got {tuple(a.shape)}")
    if isinstance(log_mass, (int, float)) and not isinstance(log_mass, bool):
        log_mass = torch.tensor(float(log_mass), dtype=pc.b.dtype)
    u = check_finite(as_tensor(log_mass, "log_mass", dtype=pc.b.dtype), "log_mass")
    if tuple(u.shape) != tuple(a.shape[:-1]):
        raise ValueError(f"log_mass must have shape {tuple(a.shape[:-1])}, got {tuple(u.shape)}")
    st = _stack([pc])
    flat_a, flat_u = a.reshape(-1, d), u.reshape(-1)
    idx = torch.zeros(flat_u.shape[0], dtype=torch.long)
    with torch.no_grad():
        return _reduced(st, idx, flat_a, flat_u).reshape(u.shape)


def length_lower_bound(model: Transformer, X: torch.Tensor, Y: torch.Tensor) -> int:
    """A proved lower bound on the length of any prompt that fits ``(X, Y)`` exactly.

    Single layer ``FF o Attn`` (one head, ``W_O W_V`` invertible, ``FF`` invertible),
    ``X: (N, d, L)``, ``Y: (N, d, 1)`` targets of the last column. An exact fit of example
    ``i`` puts ``a_i = b_i + e_i (T + E_i) / T`` (segment lemma), so with ``u = log T`` the
    prompt's entropy must be ``h_i(u) = u - g_i . b_i - (1 + E_i e^{-u}) g_i . e_i``. If
    ``k_i = E_i g_i . e_i >= 0`` some ``u`` gives ``h_i = 0`` (one token); otherwise
    ``h_i >= h_i* = log(-k_i) + 1 - g_i . b_i - g_i . e_i`` for every ``u``, and the identity
    ``H <= log L_p`` gives ``L_p >= exp(h_i*)``. Returns ``max_i ceil(exp(h_i*))`` (at least
    1). For one example with ``W_K^T W_Q x != 0`` it is also sufficient: the smallest length
    of an exact fit.
    """
    pc = _pieces(model, X, Y)
    gb = (pc.theta * pc.b).sum(-1)
    ge = (pc.theta * pc.e).sum(-1)
    best = 1
    for i in range(gb.shape[0]):
        if float(ge[i]) >= 0.0:
            continue
        h = float(pc.log_E[i]) + math.log(-float(ge[i])) + 1.0 - float(gb[i]) - float(ge[i])
        if h > 700.0:
            raise ValueError(f"the bound exp({h:.3g}) for example {i} exceeds the float range")
        best = max(best, math.ceil(math.exp(h) * (1.0 - 1e-12)))
    return best


@dataclass(frozen=True)
class ReachablePoint:
    """The best pair :func:`reachable_search` found for one dataset and one length.

    Attributes:
        loss: the loss there (an upper estimate of the best loss of every prompt of that
            length: a search, not a certificate).
        entropy: the prompt entropy ``h = log T - theta . a`` of the pair, in
            ``[0, log L_p]`` (``0`` for one token); for "every length" it is where the
            search stopped, which need not be a finite optimum.
        a: the pair's attention output, ``(d,)``; ``log T = theta . a + entropy``.
    """

    loss: float
    entropy: float
    a: torch.Tensor


def _check_lengths(prompt_length: object) -> list[int | None]:
    lengths = list(prompt_length) if isinstance(prompt_length, (list, tuple)) else [prompt_length]
    if not lengths:
        raise ValueError("prompt_length must hold at least one length")
    checked = [None if n is None else check_int(n, "prompt_length", minimum=1) for n in lengths]
    order = [math.inf if n is None else n for n in checked]
    if order != sorted(order) or len(set(order)) != len(order):
        raise ValueError(f"prompt_length must be increasing (None last), got {lengths}")
    return checked


@on_one_thread
def reachable_search(
    problems: Sequence[tuple[Transformer, torch.Tensor, torch.Tensor]],
    prompt_length: int | Sequence[int | None] | None,
    *,
    restarts: int = 32,
    steps: int = 200,
    seed: int = 0,
) -> list[list[ReachablePoint]]:
    """The best pairs a prompt of each length reaches, for many datasets at once.

    ``problems`` holds ``(model, X, Y)`` triples of one shape: single layers ``FF o Attn``
    (one head, invertible ``W_O W_V`` and ``FF``) and datasets ``X: (N, d, L)`` whose inputs
    share their last token, ``Y: (N, d, 1)``. By the entropy identity a prompt of ``L_p``
    tokens reaches exactly the pairs ``(a, u = log T)`` with entropy
    ``h = u - theta . a`` in ``[0, log L_p]`` (``None``: every ``h >= 0``, any length), so
    its best loss is the minimum of :func:`reduced_loss` over those pairs, a
    ``d + 1``-dimensional problem. Each length is searched by batched L-BFGS from
    ``restarts`` starts per dataset (random, the mean needed output, and, after the first
    length, the previous length's best pair at its entropy and at mid-range entropy: the
    closure of a length's pairs contains the previous length's, so the losses never rise).
    All datasets and restarts of a length run in one computation. Returns, per problem,
    one :class:`ReachablePoint` per length.
    """
    if isinstance(problems, (str, bytes)) or not isinstance(problems, Sequence) or not problems:
        raise TypeError("problems must be a non-empty sequence of (model, X, Y) triples")
    pieces = []
    for k, item in enumerate(problems):
        if not isinstance(item, (tuple, list)) or len(item) != 3:
            raise TypeError(f"problems[{k}] must be a triple (model, X, Y)")
        pieces.append(_shared_query_pieces(*item))
    lengths = _check_lengths(prompt_length)
    restarts = check_int(restarts, "restarts", minimum=1)
    steps = check_int(steps, "steps", minimum=0)
    seed = check_int(seed, "seed", minimum=0)
    st = _stack(pieces)
    K, d = len(pieces), st.b.shape[-1]
    starts = []
    for pc in pieces:
        gen = torch.Generator().manual_seed(seed)
        s0 = torch.randn(restarts, d + 1, generator=gen, dtype=torch.float64).to(pc.b.dtype)
        s0[:, :d] = s0[:, :d] + pc.b.mean(0)
        s0[0, :d] = (pc.b + pc.e).mean(0)  # the mean needed output
        starts.append(s0)
    base = torch.stack(starts)  # (K, R, d + 1)
    idx = torch.arange(K).repeat_interleave(restarts)
    out: list[list[ReachablePoint]] = [[] for _ in range(K)]
    previous: list[ReachablePoint] | None = None
    for L_p in lengths:
        x0 = base.clone()
        if previous is not None:  # the previous optimum, at its entropy and where
            for k, pt in enumerate(previous):  # the entropy's gradient is alive
                x0[k, 0, :d] = pt.a
                x0[k, 0, d] = _entropy_inverse(pt.entropy, L_p)
                if restarts > 1:
                    x0[k, 1, :d] = pt.a
                    x0[k, 1, d] = 0.0
        best = _search_length(st, idx, x0.reshape(K * restarts, d + 1), L_p, steps, K)
        for k in range(K):
            out[k].append(best[k])
        previous = best
    return out


def _search_length(st, idx, x0, L_p, steps, K) -> list[ReachablePoint]:
    d = st.b.shape[-1]
    theta = st.theta[:, 0]  # (K, d): the shared query's score direction

    def losses(v: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
        a, h = v[:, :d], _entropy(v[:, d], L_p)
        u = h + (a * theta[idx[rows]]).sum(-1)  # log T = mean score + entropy
        return _reduced(st, idx[rows], a, u)

    def fg(flat: torch.Tensor, rows: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        v = flat.detach().requires_grad_(True)
        f = losses(v, rows)
        (grad,) = torch.autograd.grad(f.sum(), v)
        return f.detach(), grad

    flat, _ = batched_lbfgs(fg, x0, steps, subset=True)
    with torch.no_grad():
        final = losses(flat, torch.arange(flat.shape[0])).reshape(K, -1)
    restarts = final.shape[1]
    best = []
    for k in range(K):
        r = int(final[k].argmin())
        v = flat[k * restarts + r]
        h = float(_entropy(v[d : d + 1], L_p)[0])
        best.append(ReachablePoint(loss=float(final[k, r]), entropy=h, a=v[:d].clone()))
    return best


@on_one_thread
def reachable_loss(
    model: Transformer,
    X: torch.Tensor,
    Y: torch.Tensor,
    prompt_length: int | list[int | None] | None,
    *,
    restarts: int = 8,
    steps: int = 100,
    seed: int = 0,
    with_point: bool = False,
) -> tuple | list[tuple]:
    """The best loss over the pairs ``(a, T)`` a prompt of ``prompt_length`` tokens reaches,
    for one dataset: :func:`reachable_search` of one problem.

    Returns ``(loss, h)`` of the best run (``(loss, h, a)`` with ``with_point=True``, from
    which :func:`reachable_prompt` builds a prompt): an upper estimate of the best loss of
    every prompt of that length, by a ``d + 1``-dimensional search. For a list of lengths
    (increasing, ``None`` last: any length) returns one tuple per length.
    """
    if not isinstance(with_point, bool):
        raise TypeError(f"with_point must be a bool, got {type(with_point).__name__}")
    single = not isinstance(prompt_length, (list, tuple))
    points = reachable_search(
        [(model, X, Y)], prompt_length, restarts=restarts, steps=steps, seed=seed
    )[0]
    out = [(p.loss, p.entropy, p.a) if with_point else (p.loss, p.entropy) for p in points]
    return out[0] if single else out


def _entropy(eta: torch.Tensor, L_p: int | None) -> torch.Tensor:
    if L_p is None:
        return torch.nn.functional.softplus(eta)
    if L_p == 1:
        return torch.zeros_like(eta)
    return math.log(L_p) * torch.sigmoid(eta)


def _entropy_inverse(h: float, L_p: int | None) -> float:
    """An ``eta`` whose entropy is ``h`` (clamped into the range of length ``L_p``)."""
    if L_p is None:
        return math.log(math.expm1(max(h, 1e-12)))
    if L_p == 1:
        return 0.0
    frac = min(max(h / math.log(L_p), 1e-12), 1.0 - 1e-12)
    return math.log(frac / (1.0 - frac))


@dataclass(frozen=True)
class OneTokenMultiplier:
    """What the best one-token pair says about longer prompts (see
    :func:`one_token_multiplier`).

    Attributes:
        psi: ``dF/du`` at the pair ``(a, u = theta . a)``: the change of the loss per nat of
            prompt entropy added at fixed ``a``. ``psi < 0``: a second token helps;
            ``psi > 0``: the pair is a local minimum over prompts of every length.
        residual: the norm of the one-token loss's gradient at ``a``, ``d/da F(a, theta . a)``:
            zero at a one-token optimum; the sign of ``psi`` means something only when this
            is small.
        loss: the one-token loss ``F(a, theta . a)``.
    """

    psi: float
    residual: float
    loss: float


def one_token_multiplier(
    model: Transformer, X: torch.Tensor, Y: torch.Tensor, a: torch.Tensor
) -> OneTokenMultiplier:
    """The multiplier of the entropy constraint at a one-token pair (the book's own).

    ``X: (N, d, L)`` sharing their last token, ``Y: (N, d, 1)``, ``a: (d,)`` the attention
    output of a one-token prompt (its pair is ``(a, u = theta . a)``, entropy 0). With
    ``F(a, u)`` the :func:`reduced_loss`, returns ``psi = dF/du`` there and the norm of the
    one-token gradient ``d/da F(a, theta . a) = grad_a F + psi theta``. At a one-token
    optimum (gradient zero): if ``psi < 0``, the pair ``(a, u + h)``, reached by two tokens
    for ``0 < h <= log 2``, has a smaller loss for small ``h``; if ``psi > 0`` (and ``F`` is
    smooth there), no pair of entropy ``h >= 0`` near it has a smaller loss: the one-token
    optimum is a local optimum over prompts of every length (the constraint ``h >= 0`` is
    active with multiplier ``psi``).
    """
    pc = _shared_query_pieces(model, X, Y)
    d = pc.b.shape[1]
    a = check_finite(as_tensor(a, "a", dtype=pc.b.dtype), "a")
    if a.shape != (d,):
        raise ValueError(f"a must have shape ({d},), got {tuple(a.shape)}")
    st = _stack([pc])
    idx = torch.zeros(1, dtype=torch.long)
    theta = pc.theta[0]
    with torch.enable_grad():
        av = a.detach().clone()[None].requires_grad_(True)
        u = (av * theta).sum(-1).detach().requires_grad_(True)
        f = _reduced(st, idx, av, u)
        grad_a, grad_u = torch.autograd.grad(f.sum(), (av, u))
    psi = float(grad_u[0])
    residual = float((grad_a[0] + psi * theta).norm())
    return OneTokenMultiplier(psi=psi, residual=residual, loss=float(f.detach()[0]))


@dataclass(frozen=True)
class IdentityCheck:
    """The entropy identity and the exact reduction, measured on many prompts.

    Attributes:
        prompts: how many prompts were measured.
        identity_error: the largest ``|log T - (mean score + H(w))|``.
        entropy_excess: the largest ``H(w) - log L_p`` (at most ``0`` when every prompt
            keeps to the entropy budget of its length).
        mean_score_error: the largest ``|mean score - theta . a| / (1 + |mean score|)``.
        reduction_error: the largest ``|loss of the prompt - F(a, log T)|``: the model's
            loss on the prompt against :func:`reduced_loss` at the prompt's pair.
    """

    prompts: int
    identity_error: float
    entropy_excess: float
    mean_score_error: float
    reduction_error: float


def identity_check(
    model: Transformer, X: torch.Tensor, Y: torch.Tensor, prompts: Sequence[torch.Tensor]
) -> IdentityCheck:
    """Measure the entropy identity, the entropy budget, the linear mean score and the
    exact reduction on every prompt of ``prompts`` (each ``(d, L_p)`` or a batch
    ``(R, d, L_p)``) for a dataset ``X: (N, d, L)`` sharing its query token, ``Y: (N, d, 1)``.
    Each quantity is computed separately (:func:`prompt_summary` for the identity, the
    model itself for the loss), so the errors are checks, not definitions."""
    pc = _shared_query_pieces(model, X, Y)
    X, Y = check_dataset(model, X, Y)
    if isinstance(prompts, torch.Tensor) or not isinstance(prompts, Sequence) or not prompts:
        raise TypeError("prompts must be a non-empty sequence of (d, L_p) or (R, d, L_p) tensors")
    st = _stack([pc])
    x0, theta = pc.x[0], pc.theta[0]
    worst = [0.0, -math.inf, 0.0, 0.0]
    count = 0
    for item in prompts:
        P = check_finite(as_tensor(item, "prompts", dtype=X.dtype), "prompts")
        batch = P[None] if P.dim() == 2 else P
        check_matrix_batch(batch, "prompts", ndim=3, rows=X.shape[1], layout="(R, d, L_p)")
        with torch.no_grad():
            losses = fit_loss(prompt_forward(model, batch, X), Y)
        summaries = [prompt_summary(model, Q, x0) for Q in batch]
        a = torch.stack([s.a for s in summaries])
        u = torch.tensor([s.log_mass for s in summaries], dtype=X.dtype)
        with torch.no_grad():
            reduced = _reduced(st, torch.zeros(len(summaries), dtype=torch.long), a, u)
        for s, loss, F in zip(summaries, losses.tolist(), reduced.tolist(), strict=True):
            mean_ref = float(theta @ s.a)
            worst[0] = max(worst[0], abs(s.log_mass - s.mean_score - s.entropy))
            worst[1] = max(worst[1], s.entropy - math.log(batch.shape[-1]))
            worst[2] = max(worst[2], abs(s.mean_score - mean_ref) / (1.0 + abs(s.mean_score)))
            worst[3] = max(worst[3], abs(loss - F))
            count += 1
    return IdentityCheck(count, *worst)
