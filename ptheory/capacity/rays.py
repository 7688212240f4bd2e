"""Wang et al.'s single-layer limitation: two examples that no prompt can memorize.

The model is ``tau = FF o Attn`` with one head and an invertible feed-forward layer (its
residual branch is a contraction, ``kappa = ||W_2|| ||W_1|| < 1``). Two inputs share their
last token ``x_0``: ``X_i = [x_i, x_0]``. By the segment lemma the last attention output
with a prompt is ``lam_i a + (1 - lam_i) b_i`` with ``b_i = Att(x_0, X_i)`` and **one** point
``a = Att(x_0, P)`` shared by both inputs. An exact fit needs ``a`` on the ray
``{c_i + s (c_i - b_i), s > 0}`` for both ``i``, where ``x_0 + c_i = FF^{-1}(y_i)``; the
dataset puts the two rays on parallel lines pointing away from each other, so they never
meet, and :func:`ray_lower_bound` turns this into a certified positive lower bound on
the loss (see its docstring for exactly when the bound is zero).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from .._validate import as_tensor, check_int, check_real
from ..model import Attention, Transformer
from .engine import check_dataset
from .optim import on_one_thread
from .single_layer import (  # noqa: F401  (_norm2, _scaled_ff: used by invertible)
    _norm2,
    _scaled_ff,
    ff_contraction,
    ff_inverse,
    score_direction,
    single_layer_model,
    single_layer_parts,
)

__all__ = [
    "RayBound",
    "RayGeometry",
    "apex_dataset",
    "apex_spread",
    "examplewise_bound",
    "ray_bound",
    "ray_geometry",
    "ray_lower_bound",
    "unmemorizable_dataset",
    "with_extra_head",
]


def _orthonormal_to(
    u: torch.Tensor, k: int, gen: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """``k`` (1 or 2) random orthonormal vectors orthogonal to ``u`` (Gram-Schmidt)."""
    basis = [u / u.norm()] if float(u.norm()) > 0 else []
    out = []
    while len(out) < k:
        v = torch.randn(u.shape[0], generator=gen, dtype=torch.float64).to(u.dtype)
        for w in basis:
            v = v - (v @ w) * w
        if float(v.norm()) > 1e-6:
            v = v / v.norm()
            basis.append(v)
            out.append(v)
    return out[0], (out[1] if k > 1 else None)


def unmemorizable_dataset(
    model: Transformer,
    seed: int = 0,
    *,
    radius: float = 1.0,
    tilt: float = 0.5,
    same_direction: bool = False,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Two examples that no prompt of any length fits with ``model`` (a single layer).

    Draws tokens ``x_0, x_1, x_2`` uniform in ``[0, 1]^d`` and sets ``X_i = [x_i, x_0]``.
    With ``b_i = Att(x_0, X_i)`` and orthonormal ``g, h`` orthogonal to ``b_1 - b_2``, the
    needed attention outputs are ``c_1 = b_1 + radius (g + tilt h)`` and
    ``c_2 = b_2 + radius (-g + tilt h)``; the targets of the last column are
    ``y_i = FF(x_0 + c_i)``, in the range of ``FF``. The rays ``{c_i + s (c_i - b_i), s > 0}``
    never meet (every point of ray 1 minus every point of ray 2 has the component
    ``b_1 - b_2`` along ``b_1 - b_2``) and point in different directions. For ``d = 2`` there
    is no ``h`` and the rays are antiparallel. ``c_1 - b_1`` and ``c_2 - b_2`` are linearly
    independent for ``d >= 3`` and ``tilt > 0``, so a rank-1 update of ``W_V`` cannot fit
    both examples and a rank-2 update can.

    ``same_direction=True`` breaks the construction on purpose: ``c_i = b_i + radius g``,
    parallel rays pointing the same way. The bound of :func:`ray_lower_bound` then shrinks
    to the ``T -> 0`` limit, which is zero only if ``E_1 (c_1 - b_1) = E_2 (c_2 - b_2)``
    (not the case here: it stays small and positive). A multi-head ``model`` is accepted
    too (the dataset is built the same way; the bound no longer applies).

    Returns ``X: (2, d, 2)`` and ``Y: (2, d, 1)`` (targets for the last output column).
    """
    attn, ff = single_layer_parts(model, single_head=False)
    seed = check_int(seed, "seed", minimum=0)
    if not isinstance(same_direction, bool):
        raise TypeError(f"same_direction must be a bool, got {type(same_direction).__name__}")
    radius = check_real(radius, "radius", minimum=0.0, strict_minimum=True)
    tilt = check_real(tilt, "tilt", minimum=0.0)
    d = attn.d
    gen = torch.Generator().manual_seed(seed)
    tokens = torch.rand(3, d, generator=gen, dtype=torch.float64).to(attn.W_Q.dtype)
    x0, x1, x2 = tokens
    X = torch.stack([torch.stack([x1, x0], dim=1), torch.stack([x2, x0], dim=1)])
    with torch.no_grad():
        b = attn.attend(X[:, :, -1:], X)[..., 0]  # (2, d)
        u = b[0] - b[1]
        g, h = _orthonormal_to(u, 2 if d >= 3 else 1, gen)
        rise = tilt * h if h is not None else torch.zeros_like(g)
        sign = 1.0 if same_direction else -1.0
        c = torch.stack([b[0] + radius * (g + rise), b[1] + radius * (sign * g + rise)])
        Y = ff((x0[None] + c).unsqueeze(-1))  # (2, d, 1)
    return X, Y


@dataclass(frozen=True)
class RayGeometry:
    """The pieces of the single-layer argument for examples that share their last token.

    Attributes:
        b: ``Att(x_0, X_i)``, the last attention output without a prompt, ``(N, d)``.
        c: the attention outputs an exact fit needs, ``FF^{-1}(y_i) - x_0``, ``(N, d)``.
        log_mass: ``log sum_j exp(score_j)`` of the query ``x_0`` over each input's
            columns, ``(N,)``; with prompt mass ``T`` the lemma's weight is
            ``lam_i = T / (T + exp(log_mass_i))``.
        kappa: ``||W_2|| ||W_1||`` of the feed-forward layer.
    """

    b: torch.Tensor
    c: torch.Tensor
    log_mass: torch.Tensor
    kappa: float

    def ray_points(self, s: torch.Tensor) -> torch.Tensor:
        """Points ``c_i + s (c_i - b_i)`` of each ray for ``s: (S,)``, shape ``(N, S, d)``."""
        s = as_tensor(s, "s", dtype=self.c.dtype)
        if s.dim() != 1:
            raise ValueError(f"s must be one-dimensional (S,), got shape {tuple(s.shape)}")
        e = self.c - self.b
        return self.c[:, None] + s[None, :, None] * e[:, None]


def ray_geometry(model: Transformer, X: torch.Tensor, Y: torch.Tensor) -> RayGeometry:
    """The rays of a dataset whose inputs share their last token (see :class:`RayGeometry`).

    ``X: (N, d, L)`` with equal last columns, ``Y: (N, d, 1)`` targets for the last column.
    """
    attn, ff = single_layer_parts(model)
    X, Y = check_dataset(model, X, Y)
    if Y.shape[-1] != 1:
        raise ValueError(f"Y must target the last column only, shape (N, d, 1), got {Y.shape}")
    x0 = X[:, :, -1]
    if not torch.equal(x0, x0[:1].expand_as(x0)):
        raise ValueError("X must share its last token x_0 across all examples")
    kappa = ff_contraction(ff)
    if kappa >= 1.0:
        raise ValueError(f"model must have an invertible FF (kappa < 1), got kappa = {kappa:.3g}")
    with torch.no_grad():
        q = X[:, :, -1:]
        b = attn.attend(q, X)[..., 0]
        scores = attn.scores(q, X)[:, 0, :, 0]  # (N, L): one head, one query
        log_mass = torch.logsumexp(scores, dim=-1)
        c = ff_inverse(ff, Y)[..., 0] - x0
    return RayGeometry(b=b, c=c, log_mass=log_mass, kappa=kappa)


@dataclass(frozen=True)
class RayBound:
    """:func:`ray_bound`'s certificate.

    Attributes:
        bound: the certified lower bound on the loss of every prompt (of the lengths asked for).
        estimate: ``(1 - kappa)^2`` times the relaxation's smallest value among the points
            evaluated: an upper estimate of ``(1 - kappa)^2`` times its infimum, which lies
            in ``[bound, estimate]``. So ``estimate - bound`` bounds what the certificate
            gives away against the relaxation; it says nothing about the feed-forward
            layer's factor, and a large value may only mean that the points evaluated
            missed a narrow minimum.
        t_star: the point of ``estimate``, ``t = lam_1 = T / (T + E_1)`` in ``[0, 1]``.
    """

    bound: float
    estimate: float
    t_star: float


def _interval_mul(alo, ahi, blo, bhi):
    p = torch.stack([alo * blo, alo * bhi, ahi * blo, ahi * bhi])
    p = torch.nan_to_num(p, nan=-math.inf)  # 0 * inf: only used where one factor is 0
    return p.min(0).values, p.max(0).values


def _interval_square(lo, hi):
    sq_lo = torch.where((lo <= 0) & (hi >= 0), torch.zeros_like(lo), torch.minimum(lo**2, hi**2))
    return sq_lo, torch.maximum(lo**2, hi**2)


def _relaxation(geom: RayGeometry, t: torch.Tensor, g: torch.Tensor | None, log_Lp: float | None):
    """Point values of the relaxed problem at ``t: (G,)``: ``(1/N) min_a' sum_i ||r_i a' - w_i||^2``
    with ``r_i = lam_i / lam_1``, ``w_i = lam_i b_i + e_i``, over the reachable ``a'``."""
    rho = torch.exp(geom.log_mass - geom.log_mass[0])  # E_i / E_1
    r = 1.0 / (rho[None] + t[:, None] * (1.0 - rho[None]))  # (G, N)
    lam = t[:, None] * r
    w = lam[..., None] * geom.b + (geom.c - geom.b)  # (G, N, d)
    Lam = r.pow(2).sum(-1)
    s = (r[..., None] * w).sum(1)
    V = (w.pow(2).sum((1, 2)) - s.pow(2).sum(-1) / Lam).clamp_min(0.0)
    if g is not None and float(g.norm()) > 0:
        gm = (s / Lam[:, None]) @ g
        with torch.no_grad():
            beta = torch.where(
                t > 0,
                t * (torch.log(t) + geom.log_mass[0] - torch.log1p(-t)),
                torch.zeros_like(t),
            )
        excess = (gm - beta).clamp_min(0.0)
        if log_Lp is not None:
            excess = torch.maximum(excess, (beta - t * log_Lp - gm).clamp_min(0.0))
        V = V + Lam * excess.pow(2) / float(g @ g)
    return V / geom.b.shape[0]


def _relaxation_lower(
    geom: RayGeometry, t0: torch.Tensor, t1: torch.Tensor, g, log_Lp
) -> torch.Tensor:
    """Interval lower bound of :func:`_relaxation` on every cell ``[t0, t1]``."""
    rho = torch.exp(geom.log_mass - geom.log_mass[0])
    den0 = rho[None] + t0[:, None] * (1.0 - rho[None])  # monotone in t: endpoints bound it
    den1 = rho[None] + t1[:, None] * (1.0 - rho[None])
    r_lo, r_hi = 1.0 / torch.maximum(den0, den1), 1.0 / torch.minimum(den0, den1)
    lam_lo, lam_hi = t0[:, None] / den0, t1[:, None] / den1  # increasing in t
    bl, bh = _interval_mul(lam_lo[..., None], lam_hi[..., None], geom.b, geom.b)
    e = geom.c - geom.b
    w_lo, w_hi = bl + e, bh + e  # (G, N, d)
    w2_lo, _ = _interval_square(w_lo, w_hi)
    rw_lo, rw_hi = _interval_mul(r_lo[..., None], r_hi[..., None], w_lo, w_hi)
    s_lo, s_hi = rw_lo.sum(1), rw_hi.sum(1)
    _, s2_hi = _interval_square(s_lo, s_hi)
    Lam_lo, Lam_hi = r_lo.pow(2).sum(-1), r_hi.pow(2).sum(-1)
    V_lo = (w2_lo.sum((1, 2)) - s2_hi.sum(-1) / Lam_lo).clamp_min(0.0)
    if g is not None and float(g.norm()) > 0:
        m_lo, m_hi = (
            torch.minimum(s_lo / Lam_lo[:, None], s_lo / Lam_hi[:, None]),
            torch.maximum(s_hi / Lam_lo[:, None], s_hi / Lam_hi[:, None]),
        )
        gm_lo = torch.where(g >= 0, m_lo * g, m_hi * g).sum(-1)
        gm_hi = torch.where(g >= 0, m_hi * g, m_lo * g).sum(-1)

        def beta(t):
            out = t * (torch.log(t) + geom.log_mass[0] - torch.log1p(-t))
            return torch.where(t > 0, out, torch.zeros_like(t))

        beta_hi = torch.maximum(beta(t0), beta(t1))  # beta is convex on [0, 1)
        excess = (gm_lo - beta_hi).clamp_min(0.0)
        if log_Lp is not None:
            # lower bound of beta(t) - t log L_p, term by term: t log t is convex with its
            # minimum at 1/e, -t log(1 - t) increases, t log E_1 is linear
            tm = t0.clamp_min(math.exp(-1.0)).minimum(t1)
            tlogt = torch.where(tm > 0, tm * torch.log(tm), torch.zeros_like(tm))
            lin_lo = torch.minimum(t0 * geom.log_mass[0], t1 * geom.log_mass[0])
            rise = -t0 * torch.log1p(-t0)  # -t log(1 - t) increases with t
            low = tlogt + lin_lo + rise - t1 * log_Lp
            excess = torch.maximum(excess, (low - gm_hi).clamp_min(0.0))
        V_lo = V_lo + Lam_lo * excess.pow(2) / float(g @ g)
    return V_lo / geom.b.shape[0]


@on_one_thread
def ray_bound(
    model: Transformer,
    X: torch.Tensor,
    Y: torch.Tensor,
    *,
    reachable: bool = False,
    prompt_length: int | None = None,
    cells: int = 20_000,
    refine: int = 6,
) -> RayBound:
    """A certified lower bound on the loss of **every** prompt, for examples that share
    their last token (``X: (N, d, L)``, ``Y: (N, d, 1)``); see :func:`ray_lower_bound`.

    With ``t = lam_1 = T / (T + E_1) in [0, 1]`` and ``a' = lam_1 a``, every pair ``(T, a)``
    is a point ``(t, a')`` with ``0 < t < 1``, ``lam_i = t r_i(t)``,
    ``r_i = 1 / (t + (1 - t) E_i / E_1)``, and the relaxed loss is
    ``(1/N) sum_i ||r_i a' - lam_i b_i - e_i||^2``, whose minimum over ``a'`` is closed form.
    Its extension to the closed interval ``[0, 1]`` is continuous (``t = 0``: ``T -> 0`` with
    ``|a| -> inf``; ``t = 1``: ``T -> inf``), so its infimum is a minimum over a compact set.
    The interval ``[0, 1]`` is cut into ``cells`` cells and the closed form evaluated in
    interval arithmetic on each (every quantity is monotone in ``t`` or a product of such),
    which bounds it from below on the whole cell; cells whose lower end is below half the
    best grid value are cut in 16, up to ``refine`` times (branch and bound). The minimum
    of the lower ends, times ``(1 - kappa)^2`` and less a relative ``1e-9`` for rounding,
    is the bound.

    ``reachable=True`` keeps only the pairs a prompt reaches (the entropy identity:
    ``g . a <= log T``, and ``>= log T - log L_p`` for ``prompt_length = L_p``), which needs
    an invertible ``W_O W_V``: a tighter bound for prompts of any length, or of that length.
    """
    geom = ray_geometry(model, X, Y)
    cells = check_int(cells, "cells", minimum=1)
    refine = check_int(refine, "refine", minimum=0)
    if not isinstance(reachable, bool):
        raise TypeError(f"reachable must be a bool, got {type(reachable).__name__}")
    log_Lp = None
    if prompt_length is not None:
        prompt_length = check_int(prompt_length, "prompt_length", minimum=1)
        if not reachable:
            raise ValueError("prompt_length needs reachable=True")
        log_Lp = math.log(prompt_length)
    g = None
    if reachable:  # the entropy identity's linear map
        g = score_direction(model.layers[0], X[0, :, -1])
    with torch.no_grad():
        edges = torch.linspace(0.0, 1.0, cells + 1, dtype=torch.float64)
        values = _relaxation(geom, edges, g, log_Lp)
        i = int(values.argmin())
        estimate, t_star = float(values[i]), float(edges[i])
        t0, t1 = edges[:-1], edges[1:]
        lower = _relaxation_lower(geom, t0, t1, g, log_Lp)
        # refine the cells whose lower end is far below the estimate (branch and bound)
        for _ in range(refine):
            weak = lower < 0.5 * estimate
            if not bool(weak.any()) or int(weak.sum()) * 16 > 2_000_000:
                break
            a, b = t0[weak], t1[weak]
            frac = torch.linspace(0.0, 1.0, 17, dtype=torch.float64)
            sub = a[:, None] + (b - a)[:, None] * frac[None]  # (K, 17)
            s0, s1 = sub[:, :-1].reshape(-1), sub[:, 1:].reshape(-1)
            t0, t1 = torch.cat([t0[~weak], s0]), torch.cat([t1[~weak], s1])
            lower = torch.cat([lower[~weak], _relaxation_lower(geom, s0, s1, g, log_Lp)])
            mids = _relaxation(geom, 0.5 * (s0 + s1), g, log_Lp)
            j = int(mids.argmin())
            if float(mids[j]) < estimate:
                estimate, t_star = float(mids[j]), float(0.5 * (s0[j] + s1[j]))
        # polish the estimate inside the cell whose lower end is smallest
        k = int(lower.argmin())
        fine = torch.linspace(float(t0[k]), float(t1[k]), 257, dtype=torch.float64)
        vals = _relaxation(geom, fine, g, log_Lp)
        j = int(vals.argmin())
        if float(vals[j]) < estimate:
            estimate, t_star = float(vals[j]), float(fine[j])
    scale = (1.0 - geom.kappa) ** 2
    bound = max(0.0, float(lower.min()) * (1.0 - 1e-9))
    return RayBound(bound=scale * bound, estimate=scale * estimate, t_star=t_star)


def ray_lower_bound(
    model: Transformer,
    X: torch.Tensor,
    Y: torch.Tensor,
    *,
    reachable: bool = False,
    prompt_length: int | None = None,
) -> float:
    """A certified lower bound on the loss of **every** prompt, of any length (or of length
    ``prompt_length``, with ``reachable=True``), for examples sharing their last token.

    The loss ``(1/N) sum_i ||FF(x_0 + Att(x_0, [P, X_i])) - y_i||^2`` is at least
    ``(1 - kappa)^2 (1/N) sum_i ||lam_i a + (1 - lam_i) b_i - c_i||^2`` (``FF`` is
    bi-Lipschitz, segment lemma): ``(1 - kappa)^2`` times the mean squared distance between
    the attention outputs the prompt reaches and those an exact fit needs. The bound is the
    infimum of that over ``T > 0`` and ``a`` (all of ``R^d``, or the reachable pairs),
    certified by :func:`ray_bound` (limits ``T -> 0``, ``T -> inf`` and ``|a| -> inf``
    included). It is ``0`` exactly when one of three things happens: a finite ``(T, a)``
    fits every example; all ``c_i`` are equal (``T -> inf``, ``a = c``); or all
    ``E_i (c_i - b_i)`` are equal (``T -> 0``, ``|a| -> inf``).
    """
    return ray_bound(model, X, Y, reachable=reachable, prompt_length=prompt_length).bound


def examplewise_bound(
    model: Transformer,
    X: torch.Tensor,
    Y: torch.Tensor,
    prompt_length: int | None = None,
) -> float:
    """A certified lower bound on the loss of every prompt (of ``prompt_length`` tokens,
    or of any length), for examples that need not share their query token.

    The loss is the mean of the examples' losses; a prompt acts on each query through that
    query's own pair ``(a_i, T_i)``, so each example's loss is at least its own one-example
    bound over the pairs a prompt reaches (:func:`ray_bound` with ``reachable=True``). The
    mean of those bounds bounds the loss. It ignores what ties the examples together (one
    prompt for all), so it is weaker than a joint bound. ``X: (N, d, L)``, ``Y: (N, d, 1)``.
    """
    X, Y = check_dataset(model, X, Y)
    if prompt_length is not None:
        prompt_length = check_int(prompt_length, "prompt_length", minimum=1)
    bounds = [
        ray_lower_bound(
            model, X[i : i + 1], Y[i : i + 1], reachable=True, prompt_length=prompt_length
        )
        for i in range(X.shape[0])
    ]
    return sum(bounds) / len(bounds)


def apex_dataset(
    model: Transformer,
    n: int,
    seed: int = 0,
    *,
    stretch: float = 0.5,
    offset: float = 0.3,
) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` two-token examples with **distinct** query tokens whose rays share an apex.

    Draws ``X_i = [x_i', x_i]`` uniform in ``[0, 1]^{d x 2}`` and computes
    ``b_i = Att(x_i, X_i)``; with the apex ``o`` (the mean of the ``b_i`` plus a random offset
    of scale ``offset``), the needed attention outputs are ``c_i = b_i + stretch (b_i - o)``,
    so the ray ``{c_i + s (c_i - b_i), s > 0}`` lies on the half-line from ``o`` through
    ``b_i``. Targets ``y_i = FF(x_i + c_i)`` of the last column. For ``n <= d`` the
    directions ``b_i - o`` are linearly independent (for almost every draw), which is what
    the prompt-length bound needs. Returns ``X: (n, d, 2)``, ``Y: (n, d, 1)``.
    """
    attn, ff = single_layer_parts(model)
    n = check_int(n, "n", minimum=1)
    seed = check_int(seed, "seed", minimum=0)
    stretch = check_real(stretch, "stretch", minimum=0.0, strict_minimum=True)
    offset = check_real(offset, "offset", minimum=0.0)
    d = attn.d
    gen = torch.Generator().manual_seed(seed)
    X = torch.rand(n, d, 2, generator=gen, dtype=torch.float64).to(attn.W_Q.dtype)
    with torch.no_grad():
        b = attn.attend(X[:, :, -1:], X)[..., 0]
        o = b.mean(0) + offset * torch.randn(d, generator=gen, dtype=torch.float64).to(b.dtype)
        c = b + stretch * (b - o)
        Y = ff((X[:, :, -1] + c).unsqueeze(-1))
    return X, Y


def apex_spread(model: Transformer, X: torch.Tensor, Y: torch.Tensor) -> float:
    """How far the directions of the rays of ``N`` examples are from linear dependence.

    With ``b_i = Att(x_i, X_i)`` and ``c_i = FF^{-1}(y_i) - x_i`` (``x_i`` the last token of
    ``X_i``), returns the ``N``-th largest singular value of the ``N`` unit vectors
    ``(c_i - b_i) / ||c_i - b_i||``: positive exactly when the directions are linearly
    independent (the hypothesis of the prompt-length bound for rays with a common apex),
    ``0`` when ``N > d``. ``X: (N, d, L)``, ``Y: (N, d, 1)``.
    """
    attn, ff = single_layer_parts(model)
    X, Y = check_dataset(model, X, Y)
    if Y.shape[-1] != 1:
        raise ValueError(f"Y must target the last column only, shape (N, d, 1), got {Y.shape}")
    with torch.no_grad():
        b = attn.attend(X[:, :, -1:], X)[..., 0]
        e = ff_inverse(ff, Y)[..., 0] - X[:, :, -1] - b
        norms = e.norm(dim=-1, keepdim=True)
        if bool((norms == 0).any()):
            return 0.0
        sv = torch.linalg.svdvals(e / norms)
    n = X.shape[0]
    return float(sv[n - 1]) if n <= sv.numel() else 0.0


def with_extra_head(model: Transformer, seed: int = 99) -> Transformer:
    """The single layer ``model`` with a second, random attention head added beside its own
    (same score scale; the feed-forward layer shared): a model outside the segment lemma
    whose first head is ``model``'s."""
    attn, ff = single_layer_parts(model)
    seed = check_int(seed, "seed", minimum=0)
    extra = Attention(attn.d, attn.head_size, scale=attn.scale_spec, seed=seed)
    W = {
        k: torch.cat([getattr(attn, k).detach(), getattr(extra, k).detach().to(attn.W_Q.dtype)])
        for k in ("W_Q", "W_K", "W_V", "W_O")
    }
    both = Attention.from_weights(W["W_Q"], W["W_K"], W["W_V"], W["W_O"], scale=attn.scale)
    return Transformer([both, ff]).freeze()
