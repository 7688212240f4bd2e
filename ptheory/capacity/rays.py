"""Wang et al.'s single-layer limitation: two examples that no prompt can memorize.

The model is ``tau = FF o Attn`` with one head and an invertible feed-forward layer (its
residual branch is a contraction, ``kappa = ||W_2|| ||W_1|| < 1``). Two inputs share their
last token ``x_0``: ``X_i = [x_i, x_0]``. By the segment lemma the last attention output
with a prompt is ``lam_i a + (1 - lam_i) b_i`` with ``b_i = Att(x_0, X_i)`` and **one** point
``a = Att(x_0, P)`` shared by both inputs. An exact fit needs ``a`` on the ray
``{c_i + s (c_i - b_i), s > 0}`` for both ``i``, where ``x_0 + c_i = FF^{-1}(y_i)``; the
dataset puts the two rays on parallel lines pointing away from each other, so they never
meet, and :func:`ray_lower_bound` turns this into a positive lower bound on the loss.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .._validate import as_tensor, check_int, check_real
from ..model import Attention, FeedForward, Transformer
from .engine import check_dataset

__all__ = [
    "RayGeometry",
    "apex_dataset",
    "ff_contraction",
    "ff_inverse",
    "ray_geometry",
    "ray_lower_bound",
    "single_layer_model",
    "unmemorizable_dataset",
]


def single_layer_model(
    d: int = 3,
    seed: int = 0,
    *,
    hidden: int = 8,
    contraction: float = 0.2,
    scale: str | float = "1/sqrt(d)",
    heads: int = 1,
) -> Transformer:
    """A frozen single-layer, single-head transformer ``FF o Attn`` with invertible ``FF``.

    ``Attn`` has random weights (head size ``d``); ``FF`` has width ``hidden``, random
    weights rescaled so that ``||W_2||_2 ||W_1||_2 = contraction < 1`` and random biases, so
    ``z -> FF(z)`` is bi-Lipschitz with constants ``1 - contraction`` and ``1 + contraction``
    and :func:`ff_inverse` inverts it. No positional offsets. ``heads > 1`` gives a
    multi-head layer (outside the theorem: the segment lemma needs one head).
    """
    d = check_int(d, "d", minimum=2)
    seed = check_int(seed, "seed", minimum=0)
    hidden = check_int(hidden, "hidden", minimum=1)
    contraction = check_real(contraction, "contraction", minimum=0.0, maximum=0.99)
    heads = check_int(heads, "heads", minimum=1)
    attn = Attention(d, heads=heads, scale=scale, seed=2 * seed)
    gen = torch.Generator().manual_seed(7 * seed + 3)
    ff = _scaled_ff(d, hidden, 2 * seed + 1, contraction, gen, bias_std=(0.5, 0.1))
    return Transformer([attn, ff]).freeze()


def _scaled_ff(
    d: int,
    hidden: int,
    seed: int,
    norm: float,
    gen: torch.Generator,
    *,
    bias_std: tuple[float, float],
) -> FeedForward:
    """A random ``FeedForward`` (weights from ``seed``) rescaled so that
    ``||W_1||_2 = ||W_2||_2 = sqrt(norm)``, hence ``kappa = ||W_2|| ||W_1|| = norm``, with
    biases ``b_1 ~ N(0, bias_std[0]^2)``, ``b_2 ~ N(0, bias_std[1]^2)`` drawn from ``gen``."""
    ff = FeedForward(d, hidden, seed=seed)
    with torch.no_grad():
        ff.W_1.mul_(norm**0.5 / torch.linalg.matrix_norm(ff.W_1, ord=2))
        ff.W_2.mul_(norm**0.5 / torch.linalg.matrix_norm(ff.W_2, ord=2))
        ff.b_1.copy_(bias_std[0] * torch.randn(hidden, generator=gen, dtype=torch.float64))
        ff.b_2.copy_(bias_std[1] * torch.randn(d, generator=gen, dtype=torch.float64))
    return ff


def _norm2(W: torch.Tensor) -> float:
    """The spectral norm of ``W`` (no gradient, in float64)."""
    return float(torch.linalg.matrix_norm(W.detach().double(), ord=2))


def _single_layer_parts(
    model: object, *, single_head: bool = True
) -> tuple[Attention, FeedForward]:
    if not isinstance(model, Transformer):
        raise TypeError(f"model must be a ptheory Transformer, got {type(model).__name__}")
    layers = list(model.layers)
    if (
        len(layers) != 2
        or not isinstance(layers[0], Attention)
        or not isinstance(layers[1], FeedForward)
    ):
        raise ValueError("model must be a single layer FF o Attn (layers [Attention, FeedForward])")
    attn, ff = layers
    if (single_head and attn.heads != 1) or not attn.residual or not ff.residual:
        raise ValueError("model must have one attention head and residual connections")
    if model.positions is not None:
        raise ValueError("model must have no positional offsets")
    return attn, ff


def ff_contraction(ff: FeedForward) -> float:
    """``kappa = ||W_2||_2 ||W_1||_2``, a Lipschitz constant of the residual branch of ``ff``."""
    if not isinstance(ff, FeedForward):
        raise TypeError(f"ff must be a ptheory FeedForward, got {type(ff).__name__}")
    return _norm2(ff.W_2) * _norm2(ff.W_1)


def ff_inverse(ff: FeedForward, Y: torch.Tensor, *, tol: float = 1e-14) -> torch.Tensor:
    """Solve ``FF(Z) = Y`` for ``Y: (..., d, n)`` when ``kappa < 1`` (Banach fixed point).

    ``Z = Y - b_2 - W_2 ReLU(W_1 Z + b_1)`` is a contraction with constant ``kappa``;
    iterating from ``Z = Y`` converges geometrically.
    """
    kappa = ff_contraction(ff)
    if kappa >= 1.0:
        raise ValueError(f"ff must have ||W_2|| ||W_1|| < 1 to be inverted, got {kappa:.3g}")
    Y = as_tensor(Y, "Y", dtype=ff.W_1.dtype)
    tol = check_real(tol, "tol", minimum=0.0, strict_minimum=True)
    Z = Y.clone()
    with torch.no_grad():
        for _ in range(10_000):
            new = Y - ff.b_2[:, None] - ff.W_2 @ torch.relu(ff.W_1 @ Z + ff.b_1[:, None])
            step = float((new - Z).abs().max())
            Z = new
            if step <= tol * (1.0 - kappa):
                break
    return Z


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
    parallel rays pointing the same way, which "meet at infinity" (the infimum of the loss
    is then zero, approached by prompts of growing norm). A multi-head ``model`` is
    accepted too (the dataset is built the same way; the bound no longer applies).

    Returns ``X: (2, d, 2)`` and ``Y: (2, d, 1)`` (targets for the last output column).
    """
    attn, ff = _single_layer_parts(model, single_head=False)
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
    attn, ff = _single_layer_parts(model)
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


def _relaxed_loss(geom: RayGeometry, log_T: torch.Tensor) -> torch.Tensor:
    """``min_a (1/N) sum_i ||lam_i (a - b_i) - (c_i - b_i)||^2`` for each prompt mass."""
    lam = torch.sigmoid(log_T[:, None] - geom.log_mass[None])  # (G, N)
    w = lam[..., None] * geom.b + (geom.c - geom.b)  # (G, N, d): lam_i a - w_i
    num = (lam[..., None] * w).sum(dim=1)
    total = w.pow(2).sum(dim=(1, 2)) - num.pow(2).sum(-1) / lam.pow(2).sum(-1)
    return total.clamp_min(0.0) / lam.shape[1]


def ray_lower_bound(model: Transformer, X: torch.Tensor, Y: torch.Tensor) -> float:
    """A lower bound on the loss of **every** prompt, of any length, for this dataset.

    For examples sharing their last token (``X: (N, d, L)``, ``Y: (N, d, 1)``), the loss
    ``(1/N) sum_i ||FF(x_0 + Att(x_0, [P, X_i])) - y_i||^2`` is at least ``(1 - kappa)^2``
    times ``(1/N) sum_i ||lam_i a + (1 - lam_i) b_i - c_i||^2`` (``FF`` is bi-Lipschitz and
    the segment lemma holds). Relaxing ``a`` to all of ``R^d`` and the prompt's softmax mass
    ``T`` to ``(0, inf)`` (``lam_i = T / (T + E_i)``), the inner minimum over ``a`` is a
    least-squares problem in closed form; the minimum over ``log T`` is found on a fine grid
    and refined by golden-section search (the end points ``T -> 0, inf`` included). The
    bound is positive when the rays do not meet and do not point the same way.
    """
    geom = ray_geometry(model, X, Y)
    lo = float(geom.log_mass.min()) - 40.0
    hi = float(geom.log_mass.max()) + 40.0
    grid = torch.linspace(lo, hi, 16001, dtype=torch.float64)
    values = _relaxed_loss(geom, grid)
    i = int(values.argmin())
    left, right = float(grid[max(i - 1, 0)]), float(grid[min(i + 1, len(grid) - 1)])
    ratio = (5**0.5 - 1) / 2
    for _ in range(80):  # golden-section refinement inside the best grid cell
        m1 = right - ratio * (right - left)
        m2 = left + ratio * (right - left)
        f1, f2 = _relaxed_loss(geom, torch.tensor([m1, m2], dtype=torch.float64))
        if f1 <= f2:
            right = m2
        else:
            left = m1
    refined = float(_relaxed_loss(geom, torch.tensor([0.5 * (left + right)])))
    e = geom.c - geom.b
    at_zero = float(e.pow(2).sum()) / e.shape[0]  # T -> 0: no prompt mass
    at_inf = float((geom.c - geom.c.mean(0)).pow(2).sum()) / e.shape[0]  # T -> inf
    best = min(float(values.min()), refined, at_zero, at_inf)
    return (1.0 - geom.kappa) ** 2 * best


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
    attn, ff = _single_layer_parts(model)
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
