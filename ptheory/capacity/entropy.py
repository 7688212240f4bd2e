"""The entropy identity: what a prompt of ``L_p`` tokens can do to one query (the book's lemma).

For one query token ``x`` and prompt columns ``p_1, ..., p_{L_p}`` a single head scores the
prompt by ``z_j = s p_j^T W_K^T W_Q x``. With ``w = softmax(z)`` and the prompt's log softmax
mass ``log T = log sum_j exp(z_j)``,

    log T = sum_j w_j z_j + H(w),        0 <= H(w) <= log L_p,

because ``log w_j = z_j - log T``. The mean score is linear in the prompt's mean column
``pbar = sum_j w_j p_j``: ``sum_j w_j z_j = s pbar^T W_K^T W_Q x``. When ``M = W_O W_V`` is
invertible, ``pbar = M^{-1} a`` with ``a = Att(x, P) = M pbar``, so the mean score is a linear
function ``phi(a) = g . a`` of the prompt's attention output, ``g = s M^{-T} W_K^T W_Q x``,
and a prompt of length ``L_p`` reaches exactly the pairs ``(a, T)`` with

    0 <= log T - phi(a) <= log L_p

(``= 0`` for ``L_p = 1``; ``(0, log L_p]`` for ``L_p >= 2`` when ``W_K^T W_Q x != 0``).

:func:`prompt_summary` computes the four quantities of the identity for a given prompt;
:func:`length_lower_bound` turns the constraint into a proved lower bound on the prompt
length of an exact fit; :func:`reachable_loss` minimises the exact loss over the reachable
pairs (a ``d + 1``-dimensional problem in place of a ``d L_p``-dimensional one) for examples
that share their query token.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from .._validate import as_tensor, check_finite, check_int, check_matrix_batch, check_real
from ..model import Attention, Transformer
from .engine import check_dataset
from .optim import batched_lbfgs, on_one_thread
from .rays import _single_layer_parts, ff_contraction, ff_inverse

__all__ = [
    "PromptSummary",
    "length_lower_bound",
    "prompt_summary",
    "reachable_loss",
    "reachable_prompt",
    "score_direction",
]


def _attention(model: object) -> Attention:
    if isinstance(model, Attention):
        attn = model
    elif isinstance(model, Transformer):
        found = [m for m in model.layers if isinstance(m, Attention)]
        if not found:
            raise ValueError("model must contain an attention layer")
        attn = found[0]
    else:
        raise TypeError(
            f"model must be a ptheory Transformer or Attention, got {type(model).__name__}"
        )
    if attn.heads != 1:
        raise ValueError(f"model's attention must have one head, got {attn.heads}")
    return attn


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
    attn = _attention(model)
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


def score_direction(model: object, x: torch.Tensor) -> torch.Tensor:
    """``g = s M^{-T} W_K^T W_Q x`` with ``M = W_O W_V``: the mean score of any prompt on the
    query ``x: (d,)`` is ``g . Att(x, P)``. Raises ``ValueError`` when ``M`` is singular
    (then the mean score is not a function of the attention output)."""
    attn = _attention(model)
    x = check_finite(as_tensor(x, "x", dtype=attn.W_Q.dtype), "x")
    if x.shape[-1] == 1 and x.dim() == 2:
        x = x[:, 0]
    if x.shape != (attn.d,):
        raise ValueError(f"x must have shape ({attn.d},), got {tuple(x.shape)}")
    with torch.no_grad():
        M = attn.W_O[0] @ attn.W_V[0]
        if M.shape[0] != M.shape[1] or int(torch.linalg.matrix_rank(M)) < M.shape[0]:
            raise ValueError("model must have an invertible W_O W_V (head size d, full rank)")
        q = attn.key_query_matrix()[0] @ x * attn.scale
        return torch.linalg.solve(M.T, q)


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
    attn = _attention(model)
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
    b: torch.Tensor  # (N, d) Att(x_i, X_i)
    e: torch.Tensor  # (N, d) c_i - b_i
    log_E: torch.Tensor  # (N,) log mass of x_i on X_i
    g: torch.Tensor  # (N, d) score directions


def _pieces(model: object, X: torch.Tensor, Y: torch.Tensor) -> _Pieces:
    attn, ff = _single_layer_parts(model)
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
        g = torch.stack([score_direction(attn, x) for x in X[:, :, -1]])
    return _Pieces(b=b, e=c - b, log_E=log_E, g=g)


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
    gb = (pc.g * pc.b).sum(-1)
    ge = (pc.g * pc.e).sum(-1)
    best = 1
    for i in range(gb.shape[0]):
        if float(ge[i]) >= 0.0:
            continue
        h = float(pc.log_E[i]) + math.log(-float(ge[i])) + 1.0 - float(gb[i]) - float(ge[i])
        if h > 700.0:
            raise ValueError(f"the bound exp({h:.3g}) for example {i} exceeds the float range")
        best = max(best, math.ceil(math.exp(h) * (1.0 - 1e-12)))
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
    """The best loss over the pairs ``(a, T)`` a prompt of ``prompt_length`` tokens reaches.

    For examples that share their query token ``x_0`` (``X: (N, d, L)``, ``Y: (N, d, 1)``)
    on a single layer ``FF o Attn`` with invertible ``W_O W_V``, every prompt acts through one
    pair ``(a, T)``, and the pairs of length ``L_p`` are those with entropy
    ``h = log T - g . a`` in ``[0, log L_p]`` (``None``: ``h >= 0``, any length). Minimises
    ``(1/N) sum_i ||FF(x_0 + b_i + lam_i (a - b_i)) - y_i||^2``, ``lam_i = T / (T + E_i)``,
    over ``a`` and ``h`` by batched L-BFGS from ``restarts`` random starts. Returns
    ``(loss, h)`` of the best run: an upper estimate of the best loss of every prompt of that
    length, by a ``d + 1``-dimensional search. For a list of lengths (increasing, ``None``
    last) returns one pair per length; each length also starts from the best point of the
    previous one (the closure of its reachable set contains the previous one's), so the
    losses never rise, and from that point at mid-range entropy (a start at entropy 0 sits
    where the entropy's parametrisation has no gradient, and would keep a longer prompt at
    the previous length's optimum). ``with_point=True`` returns ``(loss, h, a)`` instead,
    ``a: (d,)``, from which :func:`reachable_prompt` builds a prompt.
    """
    _, ff = _single_layer_parts(model)
    pc = _pieces(model, X, Y)
    X, Y = check_dataset(model, X, Y)
    if not torch.equal(X[:, :, -1], X[:1, :, -1].expand(X.shape[0], -1)):
        raise ValueError("X must share its last token x_0 across all examples")
    single = not isinstance(prompt_length, (list, tuple))
    lengths = [prompt_length] if single else list(prompt_length)
    if not lengths:
        raise ValueError("prompt_length must hold at least one length")
    checked = [None if n is None else check_int(n, "prompt_length", minimum=1) for n in lengths]
    order = [math.inf if n is None else n for n in checked]
    if order != sorted(order) or len(set(order)) != len(order):
        raise ValueError(f"prompt_length must be increasing (None last), got {lengths}")
    restarts = check_int(restarts, "restarts", minimum=1)
    steps = check_int(steps, "steps", minimum=0)
    seed = check_int(seed, "seed", minimum=0)
    if not isinstance(with_point, bool):
        raise TypeError(f"with_point must be a bool, got {type(with_point).__name__}")
    x0, g, d = X[0, :, -1], pc.g[0], X.shape[1]
    y = Y[..., 0]
    gen = torch.Generator().manual_seed(seed)
    start = torch.randn(restarts, d + 1, generator=gen, dtype=torch.float64).to(X.dtype)
    start[:, :d] = start[:, :d] + pc.b.mean(0)
    start[0, :d] = (pc.b + pc.e).mean(0)  # the mean needed output
    out: list[tuple[float, float]] = []
    previous: tuple[torch.Tensor, float] | None = None
    for L_p in checked:
        starts = start.clone()
        if previous is not None:  # the previous optimum, at its entropy
            a_prev, h_prev = previous
            starts[0, :d] = a_prev
            starts[0, d] = _entropy_inverse(h_prev, L_p)
            if restarts > 1:  # the same point, where the entropy's gradient is alive
                starts[1, :d] = a_prev
                starts[1, d] = 0.0
        loss, a_best, h_best = _reachable_run(ff, pc, x0, g, y, L_p, starts, steps)
        out.append((loss, h_best, a_best) if with_point else (loss, h_best))
        previous = (a_best, h_best)
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


def _reachable_run(ff, pc: _Pieces, x0, g, y, L_p, starts, steps):
    d = g.shape[0]

    def losses(v: torch.Tensor) -> torch.Tensor:
        a, h = v[:, :d], _entropy(v[:, d], L_p)
        u = h + a @ g  # log T = mean score + entropy
        lam = torch.sigmoid(u[:, None] - pc.log_E[None])  # (B, N)
        att = pc.b[None] + lam[..., None] * (a[:, None] - pc.b[None])  # (B, N, d)
        z = (x0 + att).unsqueeze(-1)
        out = z + ff.W_2 @ torch.relu(ff.W_1 @ z + ff.b_1[:, None]) + ff.b_2[:, None]
        return (out[..., 0] - y[None]).pow(2).sum(-1).mean(-1)

    def fg(flat: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        v = flat.detach().requires_grad_(True)
        f = losses(v)
        (grad,) = torch.autograd.grad(f.sum(), v)
        return f.detach(), grad

    flat, _ = batched_lbfgs(fg, starts, steps)
    with torch.no_grad():
        final = losses(flat)
    best = int(final.argmin())
    h = float(_entropy(flat[best, d : d + 1], L_p)[0])
    return float(final[best]), flat[best, :d].clone(), h
