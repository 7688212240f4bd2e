"""The efficiency criterion, head by head, in a real encoder with a soft prompt.

Serves the chapter *The efficiency criterion in a real model*: Hu et al. (2025)'s almost-linear
inference result (the book's precise form is ``thm-fast-poly`` in
:mod:`ptheory.efficiency`) asks that the entries of the queries and keys be small. This module
measures them in every head of a BERT encoder (:func:`~ptheory.real.load_encoder`) reading a
soft prompt, applies :func:`~ptheory.efficiency.norm_criterion` to each head, and substitutes
:func:`~ptheory.efficiency.poly_attention` into chosen heads.

Conventions:

* The soft prompt ``P: (d, L_p)`` (tokens are columns, as everywhere in the book) enters at
  the ``"embedding"`` placement of :func:`~ptheory.real.encode` (``peft``'s prompt tuning):
  it replaces the word embeddings of ``L_p`` positions placed *before* ``[CLS]``; BERT then
  adds position and token-type embeddings to every column and applies its embedding
  LayerNorm, so the model reads ``n = L_p + L`` columns, positions ``0 .. n - 1``. Hidden
  states and attention are in rows (``(N, n, d)``, the library's layout). Every column a
  layer reads is then a LayerNorm's output, which is what :func:`layernorm_cap` uses.
* BERT scores a query ``q`` against a key ``k`` (rows of one head of size ``m``, the book's
  symbol for the head size; biases included) by ``<q, k> / sqrt(m)``.
  :mod:`ptheory.efficiency` writes scores as ``<q~, k~> / m`` (Alman and Song's scale),
  so ``q~ = m^(1/4) q``, ``k~ = m^(1/4) k`` (the factor split equally between the two
  sides) and the entry bound is
  ``B = m^(1/4) max(||Q||_max, ||K||_max)``: exactly what
  :func:`~ptheory.efficiency.norm_criterion` computes with ``scale="1/sqrt(d)"``.
* In a multi-layer encoder every column's output feeds the next layer's keys and values, so a
  layer needs the queries of all ``n`` columns (the prompt's too), not only the input's: the
  criterion is applied to all of them.
* Two exact rewritings leave every attention output unchanged and can only lower ``B``: the key
  bias adds ``<q, b_K>`` to every score of a query, which the softmax cancels, so it can be
  dropped; and ``q -> c q, k -> k / c`` keeps the scores, with ``c = sqrt(max|K| / max|Q|)``
  minimising ``max(c max|Q|, max|K| / c)``. ``balanced`` below is the criterion after both.
  These are not the only exact rewritings (all keys may be shifted by any common vector; any
  invertible ``A`` maps ``q -> A q``, ``k -> A^(-T) k``). What none of them changes is the
  spread of one query's scores, ``max_j s_ij - min_j s_ij`` (a rewriting may add a constant
  to each row of scores, nothing else, if it is to keep the attention weights), and entries
  bounded by ``B`` put every score in ``[-B^2, B^2]``: so ``B^2 >= spread / 2`` for **every**
  exact rewriting, in any head size (``spread`` below).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import torch

from .._validate import as_tensor, check_finite, check_int, check_real
from ..efficiency import exact_attention, norm_criterion, poly_attention, poly_error_bound
from ..efficiency._inputs import check_method
from ..model import torch_threads
from .loader import Encoder, check_encoder
from .prompted import Encoded, HeadFn, encode, word_prompt

__all__ = [
    "HeadCriteria",
    "HeadRecord",
    "TunedPrompt",
    "cap_prompt",
    "cooled_head",
    "head_criteria",
    "layernorm_cap",
    "readout_kl",
    "substitution",
    "tune_prompt",
]

SCALE = "1/sqrt(d)"
"""BERT's score scale, in :func:`~ptheory.model.resolve_scale`'s words."""


# ------------------------------------------------------------------ argument checks
def _check_prompt(P: Any, enc: Encoder, name: str = "P") -> torch.Tensor:
    P = check_finite(as_tensor(P, name, dtype=torch.float32), name)
    if P.dim() != 2 or P.shape[0] != enc.d or P.shape[1] < 1:
        raise ValueError(
            f"{name} must have shape (d, L_p) = ({enc.d}, L_p >= 1), tokens as columns, "
            f"got {tuple(P.shape)}"
        )
    return P


def _check_ids(ids: Any, enc: Encoder, P: torch.Tensor) -> torch.Tensor:
    if not isinstance(ids, torch.Tensor) or ids.dtype not in (torch.int64, torch.int32):
        raise TypeError("ids must be an integer torch tensor of token ids, shape (N, L)")
    if ids.dim() != 2 or ids.shape[0] < 1 or ids.shape[1] < 1:
        raise ValueError(f"ids must have shape (N, L) with N, L >= 1, got {tuple(ids.shape)}")
    n = P.shape[1] + ids.shape[1]
    limit = int(enc.model.config.max_position_embeddings)
    if n > limit:
        raise ValueError(f"ids and P give n = {n} positions, more than the model's {limit}")
    return ids.long()


def _qkv(enc: Encoder, P: torch.Tensor, ids: torch.Tensor, placement: str) -> Encoded:
    with torch.no_grad():
        return encode(enc, ids, P, placement=placement, record=True)


# ------------------------------------------------------------------ the criterion
@dataclass(frozen=True)
class HeadCriteria:
    """The norm criterion of every head, ``(layers, heads)`` tensors.

    ``entry_bound``: ``B = m^(1/4) max(||Q||_max, ||K||_max)`` over all ``n`` columns, as
    the model computes ``Q`` and ``K`` (:func:`~ptheory.efficiency.norm_criterion` with
    ``scale="1/sqrt(d)"``); ``holds``/``degree``: its verdict and the degree it selected
    (``-1``: none guarantees ``eps`` up to degree 64). ``balanced_bound``,
    ``holds_balanced``: the same after the two exact rewritings of the module docstring
    (key bias dropped, split rebalanced). ``prompt_bound``: ``B`` over the prompt's
    columns alone; ``input_bound``: over the input's columns alone. ``radius``: the score
    radius ``R = max||q|| max||k|| / sqrt(m)`` (Cauchy-Schwarz; the key bias dropped), which
    no rescaling changes. ``spread``: half the largest spread of one query's scores,
    ``max_i (max_j s_ij - min_j s_ij) / 2`` with ``s_ij = <q_i, k_j> / sqrt(m)`` (per
    sequence), which no exact rewriting changes and which bounds ``B^2`` from below for every
    one of them (module docstring). ``threshold = sqrt(ln n)``.
    """

    entry_bound: torch.Tensor
    balanced_bound: torch.Tensor
    prompt_bound: torch.Tensor
    input_bound: torch.Tensor
    radius: torch.Tensor
    spread: torch.Tensor
    holds: torch.Tensor
    holds_balanced: torch.Tensor
    degree: torch.Tensor
    n: int
    eps: float
    method: str
    threshold: float = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "threshold", math.sqrt(math.log(self.n)))

    @property
    def fraction(self) -> float:
        """The fraction of heads for which the criterion holds (as computed or balanced)."""
        return float((self.holds | self.holds_balanced).double().mean())

    @property
    def ratio(self) -> torch.Tensor:
        """``B / sqrt(ln n)`` per head."""
        return self.entry_bound / self.threshold


def head_criteria(
    enc: Encoder,
    P: torch.Tensor,
    ids: torch.Tensor,
    *,
    eps: float = 1e-3,
    method: str = "chebyshev",
    placement: str = "embedding",
) -> HeadCriteria:
    """:func:`~ptheory.efficiency.norm_criterion` for every head of ``enc`` reading
    ``[P, ids]`` with the prompt at ``placement`` (``"embedding"``, ``peft``'s, or
    ``"input"``): ``eps`` is the target max-abs error per unit of ``max|V|`` (the package's
    default), ``n = L_p + L`` keys and ``n`` queries per sequence."""
    enc = check_encoder(enc)
    P = _check_prompt(P, enc)
    ids = _check_ids(ids, enc, P)
    eps = check_real(eps, "eps", minimum=0.0, strict_minimum=True)
    method = check_method(method)
    if placement not in ("embedding", "input"):
        raise ValueError(f"placement must be 'embedding' or 'input', got {placement!r}")
    run = _qkv(enc, P, ids, placement)
    qkv = list(zip(run.queries, run.keys, run.values, strict=True))
    L_p, dh = P.shape[1], enc.head_size
    root = dh**0.25
    shape = (enc.layers, enc.heads)
    out = {k: torch.zeros(shape, dtype=torch.float64) for k in ("B", "Bb", "Bp", "Bx", "R", "S")}
    holds = torch.zeros(shape, dtype=torch.bool)
    holds_b = torch.zeros(shape, dtype=torch.bool)
    degree = torch.zeros(shape, dtype=torch.long)
    for i, (q, k, _) in enumerate(qkv):
        b_key = enc.model.encoder.layer[i].attention.self.key.bias.detach().view(enc.heads, dh)
        for h in range(enc.heads):
            qh, kh = q[:, h].double(), k[:, h].double()
            crit = norm_criterion(qh, kh, scale=SCALE, eps=eps, method=method)
            k0 = kh - b_key[h].double()
            c = math.sqrt(float(k0.abs().max()) / max(float(qh.abs().max()), 1e-300))
            bal = norm_criterion(c * qh, k0 / c, scale=SCALE, eps=eps, method=method)
            out["B"][i, h], out["Bb"][i, h] = crit.entry_bound, bal.entry_bound
            prompt = max(float(qh[:, :L_p].abs().max()), float(kh[:, :L_p].abs().max()))
            inputs = max(float(qh[:, L_p:].abs().max()), float(kh[:, L_p:].abs().max()))
            out["Bp"][i, h], out["Bx"][i, h] = root * prompt, root * inputs
            qn = float(torch.linalg.vector_norm(qh, dim=-1).max())
            out["R"][i, h] = qn * float(torch.linalg.vector_norm(k0, dim=-1).max()) / dh**0.5
            scores = qh @ kh.transpose(-1, -2) / dh**0.5  # (N, n, n), one sequence each
            out["S"][i, h] = float((scores.amax(dim=-1) - scores.amin(dim=-1)).max()) / 2
            holds[i, h], holds_b[i, h], degree[i, h] = crit.holds, bal.holds, crit.degree
    n = P.shape[1] + ids.shape[1]
    return HeadCriteria(
        out["B"],
        out["Bb"],
        out["Bp"],
        out["Bx"],
        out["R"],
        out["S"],
        holds,
        holds_b,
        degree,
        n,
        eps,
        method,
    )


def layernorm_cap(enc: Encoder) -> torch.Tensor:
    """An upper bound on ``B`` of every head, ``(layers, heads)``, valid for **every** input
    and every soft prompt at the ``"embedding"`` placement: each layer of a post-LayerNorm
    BERT then reads only outputs ``h = gamma * z + beta`` of a LayerNorm (the embedding
    LayerNorm for layer 1), whose normalised vector has ``||z||_2 <= sqrt(d)``. (At the
    ``"input"`` placement the prompt's columns reach layer 1 without a LayerNorm, and the
    cap holds in the later layers only; a prefix's keys are free in every layer.) So the
    entry ``j`` of a query (or key) ``W h + b`` is at most
    ``||W_j * gamma||_2 sqrt(d) + |W_j . beta + b_j|`` (Cauchy-Schwarz), and ``B`` at most
    ``m^(1/4)`` times the largest of these over the head's query and key rows."""
    enc = check_encoder(enc)
    m, d, dh = enc.model, enc.d, enc.head_size
    caps = torch.zeros(enc.layers, enc.heads, dtype=torch.float64)
    with torch.no_grad():
        for i, layer in enumerate(m.encoder.layer):
            ln = m.embeddings.LayerNorm if i == 0 else m.encoder.layer[i - 1].output.LayerNorm
            gamma, beta = ln.weight.double(), ln.bias.double()
            sa = layer.attention.self
            rows = []
            for lin in (sa.query, sa.key):
                W, b = lin.weight.double(), lin.bias.double()
                rows.append((W * gamma).norm(dim=1) * math.sqrt(d) + (W @ beta + b).abs())
            caps[i] = torch.maximum(*rows).view(enc.heads, dh).amax(dim=1) * dh**0.25
    return caps


def cap_prompt(enc: Encoder, *, scale: float = 1e4) -> torch.Tensor:
    """A soft prompt ``(d, heads)`` that drives the first layer's ``B`` up to
    :func:`layernorm_cap`: column ``h`` is ``scale`` times the row ``w = W_j * gamma`` (of the
    embedding LayerNorm's weight ``gamma`` and the query or key row ``j`` of head ``h`` that
    sets the head's cap), centred and with the sign of ``W_j . beta + b_j``. For large
    ``scale`` the position and token-type embeddings added to it are negligible, the
    LayerNorm's normalised vector is ``z = sqrt(d) (w - mean(w)) / ||w - mean(w)||``, and the
    entry is ``||w - mean(w)||_2 sqrt(d) + |W_j . beta + b_j|``: the cap, up to the centring
    (``z`` has mean zero; the cap does not use that). A prompt whose own column reaches the cap
    shows the cap cannot be lowered without using more than ``||z|| <= sqrt(d)``."""
    enc = check_encoder(enc)
    scale = check_real(scale, "scale", minimum=0.0, strict_minimum=True)
    ln = enc.model.embeddings.LayerNorm
    sa = enc.model.encoder.layer[0].attention.self
    d, dh = enc.d, enc.head_size
    with torch.no_grad():
        gamma, beta = ln.weight.double(), ln.bias.double()
        rows, offsets = [], []
        for lin in (sa.query, sa.key):
            W = lin.weight.double()
            rows.append(W * gamma)
            offsets.append(W @ beta + lin.bias.double())
        bounds = [
            r.norm(dim=1) * math.sqrt(d) + o.abs() for r, o in zip(rows, offsets, strict=True)
        ]
        P = torch.zeros(d, enc.heads, dtype=torch.float64)
        for h in range(enc.heads):
            block = slice(h * dh, (h + 1) * dh)
            side = 0 if float(bounds[0][block].max()) >= float(bounds[1][block].max()) else 1
            j = h * dh + int(bounds[side][block].argmax())
            w = rows[side][j] - rows[side][j].mean()
            sign = 1.0 if float(offsets[side][j]) >= 0 else -1.0
            P[:, h] = sign * scale * w / w.norm()
    return P.float()


# ------------------------------------------------------------------ tuning a prompt
@dataclass(frozen=True)
class TunedPrompt:
    """A tuned soft prompt ``(d, L_p)`` (or a :class:`~ptheory.real.Prefix`), with its loss
    per step (before each update; ``losses[-1]`` is after the last update)."""

    prompt: Any
    losses: tuple[float, ...]


def _readout(enc: Encoder, seed: int) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    u = torch.randn(enc.d, generator=gen)
    return u / u.norm()


def _task_loss(enc: Encoder, P: torch.Tensor, ids: torch.Tensor, labels: torch.Tensor, u):
    h = encode(enc, ids, P, placement="embedding").outputs  # the input's columns
    logits = h.mean(dim=1) @ u
    return torch.nn.functional.binary_cross_entropy_with_logits(logits, labels)


def tune_prompt(
    enc: Encoder,
    ids: torch.Tensor,
    labels: torch.Tensor,
    *,
    prompt_length: int = 4,
    steps: int = 20,
    lr: float = 0.05,
    seed: int = 0,
) -> TunedPrompt:
    """Tune a soft prompt briefly (``steps`` Adam updates at learning rate ``lr``) on a
    binary task: the logit of sequence ``i`` is ``<mean_t h_t, u>``, the mean of the final
    hidden states over the input's columns against a fixed random unit vector ``u`` (from
    ``seed``), trained with the logistic loss on ``labels`` (``N`` zeros and ones). The
    prompt (``"embedding"`` placement) starts at the word embeddings of ``prompt_length``
    random words (:func:`~ptheory.real.word_prompt`, from ``seed``); the model stays
    frozen. Runs on one CPU thread (small tensors, many steps)."""
    enc = check_encoder(enc)
    L_p = check_int(prompt_length, "prompt_length", minimum=1)
    steps = check_int(steps, "steps", minimum=0)
    lr = check_real(lr, "lr", minimum=0.0, strict_minimum=True)
    seed = check_int(seed, "seed", minimum=0)
    P0 = word_prompt(enc, L_p, seed=seed, placement="embedding")
    ids = _check_ids(ids, enc, P0)
    if not isinstance(labels, torch.Tensor) or labels.shape != (ids.shape[0],):
        raise ValueError(f"labels must be a tensor of shape ({ids.shape[0]},), one per sequence")
    if not bool(((labels == 0) | (labels == 1)).all()):
        raise ValueError("labels must be zeros and ones")
    labels = labels.float()
    u = _readout(enc, seed)
    P = P0.clone().requires_grad_(True)
    opt = torch.optim.Adam([P], lr=lr)
    losses = []
    with torch.random.fork_rng(devices=[]), torch_threads(1):
        torch.manual_seed(seed)
        for _ in range(steps):
            opt.zero_grad()
            loss = _task_loss(enc, P, ids, labels, u)
            loss.backward()
            opt.step()
            losses.append(loss.item())
        with torch.no_grad():
            losses.append(float(_task_loss(enc, P, ids, labels, u)))
    return TunedPrompt(P.detach().clone(), tuple(losses))


# ------------------------------------------------------------------ substitution
@dataclass(frozen=True)
class HeadRecord:
    """One substituted head in one forward pass: ``error`` = max-abs difference of its
    polynomial output from exact attention (float64), ``bound`` =
    :func:`~ptheory.efficiency.poly_error_bound` for these inputs (at or above ``trivial``:
    no guarantee),
    ``trivial`` = the error of returning ``mean(V)``, ``v_max`` = ``max|V|``."""

    layer: int
    head: int
    degree: int
    error: float
    bound: float
    trivial: float
    v_max: float


def _check_plan(enc: Encoder, plan: Any) -> dict[tuple[int, int], int]:
    if not isinstance(plan, Mapping):
        raise TypeError("plan must be a mapping {(layer, head): degree}")
    out = {}
    for key, g in plan.items():
        if not (isinstance(key, tuple) and len(key) == 2):
            raise TypeError(f"plan keys must be (layer, head) pairs, got {key!r}")
        layer = check_int(key[0], "plan", minimum=0, maximum=enc.layers - 1)
        head = check_int(key[1], "plan", minimum=0, maximum=enc.heads - 1)
        out[(layer, head)] = check_int(g, "plan", minimum=0, maximum=64)
    return out


def _poly_head(layer: int, head: int, degree: int, method: str, record: list | None) -> HeadFn:
    def attend(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: torch.Tensor):
        if bool((mask != 0).any()):
            raise ValueError("polynomial attention cannot mask keys: use inputs without padding")
        # float64: a Chebyshev fit on a large score range has weights past float32's
        qh, kh, vh = (t.detach().double() for t in (q, k, v))
        # one thread: the kernel's many tiny batched products, split over threads,
        # mostly wait on each other on a loaded machine
        with torch_threads(1):
            approx = poly_attention(qh, kh, vh, degree, method, scale=SCALE)
        if record is not None:
            exact = exact_attention(qh, kh, vh, scale=SCALE, reference=True)
            mean_v = vh.mean(dim=-2, keepdim=True)
            record.append(
                HeadRecord(
                    layer,
                    head,
                    degree,
                    float((approx - exact).abs().max()),
                    poly_error_bound(qh, kh, vh, degree, method, scale=SCALE),
                    float((mean_v - exact).abs().max()),
                    float(vh.abs().max()),
                )
            )
        return approx

    return attend


def substitution(
    enc: Encoder,
    plan: Mapping[tuple[int, int], int],
    *,
    method: str = "chebyshev",
    record: list[HeadRecord] | None = None,
) -> dict[tuple[int, int], HeadFn]:
    """Head replacements for :func:`~ptheory.real.encode` (its ``heads`` argument): head
    ``h`` of layer ``l`` computes its attention by :func:`~ptheory.efficiency.poly_attention`
    at degree ``plan[(l, h)]`` (``method``; the Chebyshev fit on the head's own score
    radius; in float64, since the fit's weights on a large score range overflow float32),
    every other head exactly. Each substituted head of each forward pass appends a
    :class:`HeadRecord` to ``record`` when given. Layers and heads from 0."""
    enc = check_encoder(enc)
    plan = _check_plan(enc, plan)
    method = check_method(method)
    if record is not None and not isinstance(record, list):
        raise TypeError(f"record must be a list or None, got {type(record).__name__}")
    return {(lay, h): _poly_head(lay, h, g, method, record) for (lay, h), g in plan.items()}


@contextmanager
def cooled_head(enc: Encoder, layer: int, head: int, factor: float) -> Iterator[Encoder]:
    """Within the ``with`` block, head ``head`` of layer ``layer`` has its query and key
    weights and biases multiplied by ``factor`` (its scores by ``factor**2``): a different
    model, for controls. Restored on exit."""
    enc = check_encoder(enc)
    layer = check_int(layer, "layer", minimum=0, maximum=enc.layers - 1)
    head = check_int(head, "head", minimum=0, maximum=enc.heads - 1)
    factor = check_real(factor, "factor", minimum=0.0, strict_minimum=True)
    sa = enc.model.encoder.layer[layer].attention.self
    rows = slice(head * enc.head_size, (head + 1) * enc.head_size)
    saved = [(p, p[rows].clone()) for lin in (sa.query, sa.key) for p in (lin.weight, lin.bias)]
    try:
        with torch.no_grad():
            for p, _ in saved:
                p[rows] *= factor
        yield enc
    finally:
        with torch.no_grad():
            for p, old in saved:
                p[rows] = old


# ------------------------------------------------------------------ the output distribution
def readout_kl(
    enc: Encoder, reference: torch.Tensor, changed: torch.Tensor, *, start: int = 0
) -> torch.Tensor:
    """``KL(p || p~)`` per sequence and position ``>= start``, ``(N, n - start)``, for the
    tied-embedding vocabulary readout ``p = softmax(h E^T)``: ``E`` the model's word
    embeddings (``(vocab, d)``), ``h`` a final hidden state of ``reference`` (``p``) or of
    ``changed`` (``p~``), both ``(N, n, d)``. (The packaged model has no masked-language
    head; this is its weight-tied readout without the head's extra dense layer.)"""
    enc = check_encoder(enc)
    a = check_finite(as_tensor(reference, "reference"), "reference")
    b = check_finite(as_tensor(changed, "changed"), "changed")
    if a.dim() != 3 or a.shape[-1] != enc.d:
        raise ValueError(f"reference must have shape (N, n, {enc.d}), got {tuple(a.shape)}")
    if b.shape != a.shape:
        raise ValueError(f"changed must have the shape of reference, {tuple(a.shape)}")
    start = check_int(start, "start", minimum=0, maximum=a.shape[1] - 1)
    E = enc.model.embeddings.word_embeddings.weight.detach().double()
    with torch.no_grad():
        lp = torch.log_softmax(a[:, start:].double() @ E.T, dim=-1)
        lq = torch.log_softmax(b[:, start:].double() @ E.T, dim=-1)
        return (lp.exp() * (lp - lq)).sum(dim=-1).clamp_min(0.0)
