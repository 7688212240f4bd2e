"""Wang et al.'s ray dataset in the geometry of one head of the real encoder's first layer.

The chapter ``real_soft_prompts`` transfers the single-layer limitation of the
``unmemorizable_dataset`` chapter (:mod:`ptheory.capacity.rays`) to the pretrained
encoder. :func:`ray_dataset` builds the two-example dataset for head ``h`` of layer 1: two
inputs ``[CLS, w_i, SEP]`` share the query ``[CLS]``, and the output that head should give
at ``[CLS]`` is moved off ``b_i``, **within the head's own output range** (the columns of
its block of the output projection), so that the rays of the segment lemma never meet.
:func:`level_output` runs three nested models with a prompt: ``"head"``, the one-head
sub-model for which the segment lemma (and the ray bound) is exact; ``"layer"``, the whole
first layer as it is (12 heads, LayerNorm, feed-forward); ``"model"``, all six layers.
:func:`ray_problem` writes the one-head sub-model as a bias-free ``ptheory`` single layer
(an extra coordinate 1 absorbs the biases) for :func:`ptheory.capacity.ray_bound`;
:func:`prompt_dataset` is the control (targets made by a prompt).

Prompts are inserted as in :mod:`ptheory.real.memorize`; states are ``(N, T, d)``.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import torch

from .._validate import check_int, check_real
from ..model import Attention, FeedForward, Transformer
from .loader import Encoder
from .memorize import (
    _adam,
    _check_encoder,
    _check_prompt,
    _check_states,
    _encode,
    _insert,
    _special_ids,
    _steps_lr,
    _with_prompt,
    input_states,
    prompted_states,
    word_embeddings,
)

__all__ = [
    "LEVELS",
    "RayData",
    "fit_prompts",
    "head_output",
    "level_output",
    "level_targets",
    "no_prompt_loss",
    "prompt_dataset",
    "ray_dataset",
    "ray_problem",
]

LEVELS = ("head", "layer", "model")
"""The nested models of :func:`level_output`: one head of layer 1, layer 1, all layers."""


@dataclass(frozen=True)
class RayData:
    """Two inputs ``[CLS, w_i, SEP]`` that share the query ``[CLS]``, and what the model
    should output at ``[CLS]``.

    Attributes:
        ids: ``(2, 3)`` token ids.
        states: the first layer's inputs ``(2, 3, d)``.
        head: the head ``h`` of the first layer the dataset is built for.
        offsets: ``(2, d)`` (ray dataset): the change ``e_i = c_i - b_i`` asked of head
            ``h``'s output at ``[CLS]``, or ``None``.
        prompt: ``(L_p, d)`` (control): the prompt whose outputs are the targets, or
            ``None``.
    """

    ids: torch.Tensor
    states: torch.Tensor
    head: int
    offsets: torch.Tensor | None
    prompt: torch.Tensor | None


def _check_head(enc: Encoder, head: object) -> int:
    head = check_int(head, "head", minimum=0)
    if head >= enc.heads:
        raise ValueError(f"head must be below {enc.heads}, got {head}")
    return head


def _head_weights(enc: Encoder, head: int) -> dict[str, torch.Tensor]:
    """Head ``h`` of layer 1 in float64: ``W_q, W_k, W_v: (s, d)``, biases ``(s,)``,
    ``W_o: (d, s)`` (its block of the output projection) and the shared ``b_o: (d,)``."""
    att = enc.model.encoder.layer[0].attention
    s = enc.head_size
    rows = slice(head * s, (head + 1) * s)
    sa = att.self
    return {
        "W_q": sa.query.weight[rows].double(),
        "b_q": sa.query.bias[rows].double(),
        "W_k": sa.key.weight[rows].double(),
        "b_k": sa.key.bias[rows].double(),
        "W_v": sa.value.weight[rows].double(),
        "b_v": sa.value.bias[rows].double(),
        "W_o": att.output.dense.weight[:, rows].double(),
        "b_o": att.output.dense.bias.double(),
    }


def head_output(
    enc: Encoder, states: torch.Tensor, P: torch.Tensor | None = None, *, head: int = 0
) -> torch.Tensor:
    """The one-head sub-model at the query ``[CLS]`` (float64), ``(N, d)``:

    ``u = x_0 + b_o + W_o^h sum_j softmax_j(s (W_k^h t_j + b_k) . (W_q^h x_0 + b_q))
    (W_v^h t_j + b_v)`` over the columns ``t_j`` of ``[P, X]``, ``s = 1/sqrt(head size)``:
    layer 1 before its LayerNorm, with the other heads removed. The segment lemma holds
    for it exactly (``b_v`` and ``b_o`` pass through the convex combination; ``b_k`` adds
    the same score to every column)."""
    enc = _check_encoder(enc)
    states = _check_states(enc, states)
    head = _check_head(enc, head)
    if P is not None:
        P = _check_prompt(enc, P)
    t = _with_prompt(states.double(), None if P is None else P.double())
    return _head_on(enc, head, t)


def _head_on(enc: Encoder, head: int, t: torch.Tensor) -> torch.Tensor:
    """:func:`head_output` on the full sequences ``t: (N, n, d)`` (query: column 0)."""
    W = _head_weights(enc, head)
    t = t.double()
    x0 = t[:, 0]
    q = x0 @ W["W_q"].T + W["b_q"]  # (N, s)
    k = t @ W["W_k"].T + W["b_k"]  # (N, n, s)
    v = t @ W["W_v"].T + W["b_v"]
    w = torch.softmax((k @ q[:, :, None])[..., 0] / math.sqrt(enc.head_size), dim=-1)
    return x0 + W["b_o"] + (w[:, None] @ v)[:, 0] @ W["W_o"].T


@contextmanager
def _cls_offsets(enc: Encoder, offsets: torch.Tensor | None) -> Iterator[None]:
    """Add ``offsets: (N, d)`` to layer 1's attention output at ``[CLS]`` (before the
    residual and LayerNorm): head ``h`` moved from ``b_i`` to ``c_i``."""
    if offsets is None:
        yield
        return
    dense = enc.model.encoder.layer[0].attention.output.dense

    def hook(_module: Any, _inputs: Any, out: torch.Tensor) -> torch.Tensor:
        out = out.clone()
        out[:, 0] = out[:, 0] + offsets.to(out.dtype)
        return out

    handle = dense.register_forward_hook(hook)
    try:
        yield
    finally:
        handle.remove()


def _check_level(level: object) -> str:
    if level not in LEVELS:
        raise ValueError(f"level must be one of {LEVELS}, got {level!r}")
    return str(level)


def level_output(
    enc: Encoder,
    level: str,
    states: torch.Tensor,
    P: torch.Tensor | None = None,
    *,
    head: int = 0,
    offsets: torch.Tensor | None = None,
) -> torch.Tensor:
    """The ``[CLS]`` output ``(N, d)`` of a nested model with the prompt ``P``:
    ``"head"`` (:func:`head_output`, float64), ``"layer"`` (layer 1 as it is) or
    ``"model"`` (all layers). ``offsets: (N, d)`` adds to layer 1's attention output at
    ``[CLS]`` (``"layer"``, ``"model"``; for ``"head"`` it is added to the output)."""
    enc = _check_encoder(enc)
    level = _check_level(level)
    if level == "head":
        out = head_output(enc, states, P, head=head)
        return out if offsets is None else out + offsets.double()
    with _cls_offsets(enc, offsets):
        layers = 1 if level == "layer" else enc.layers
        return prompted_states(enc, states, P, layers=layers)[:, 0]


def _pair_ids(enc: Encoder, seed: int) -> torch.Tensor:
    cls, sep, first = _special_ids(enc)
    gen = torch.Generator().manual_seed(seed)
    words = torch.randperm(enc.vocab_size - first, generator=gen)[:2] + first
    return torch.stack([torch.tensor([cls, int(w), sep]) for w in words])


def ray_dataset(
    enc: Encoder,
    seed: int = 0,
    *,
    head: int = 0,
    radius: float = 1.0,
    tilt: float = 0.5,
    same_direction: bool = False,
) -> RayData:
    """Wang et al.'s two-example dataset in the geometry of head ``head`` of layer 1.

    Two random words give ``X_i = [CLS, w_i, SEP]``, which share the query ``x_0``
    (``[CLS]``, position 0). With ``b_i`` the head's output without a prompt
    (:func:`head_output`) and ``g, h`` orthonormal, orthogonal to ``b_1 - b_2`` and drawn
    at random (from ``seed``) **in the head's output range** (the column space of its
    block ``W_o^h: (d, s)`` of the output projection, which holds ``b_1 - b_2``), the
    outputs asked for are ``c_1 = b_1 + r (g + tilt h)`` and
    ``c_2 = b_2 + r (-g + tilt h)`` with ``r = radius * ||b_1 - b_2||``: the closed rays
    ``{c_i + s (c_i - b_i), s >= 0}`` never meet (as in ``ptheory.capacity.
    unmemorizable_dataset``). The offsets ``e_i = c_i - b_i`` lie in the range of
    ``W_o^h``, so a change of the head's own weights can produce them (a rank-2 change of
    ``W_v^h``, when the two token mixtures are independent); an offset outside that range
    would be out of reach of every change to the head, prompt or not, and would say
    nothing about prompts. ``same_direction=True`` turns the second offset around
    (``+g``), the construction broken on purpose. Needs a head size of at least 3."""
    enc = _check_encoder(enc)
    seed = check_int(seed, "seed", minimum=0)
    head = _check_head(enc, head)
    radius = check_real(radius, "radius", minimum=0.0, strict_minimum=True)
    tilt = check_real(tilt, "tilt", minimum=0.0)
    if not isinstance(same_direction, bool):
        raise TypeError(f"same_direction must be a bool, got {type(same_direction).__name__}")
    if enc.head_size < 3:
        raise ValueError(f"enc must have heads of size at least 3, got {enc.head_size}")
    ids = _pair_ids(enc, seed)
    states = input_states(enc, ids)
    with torch.no_grad():
        b = head_output(enc, states, head=head)
        span, _ = torch.linalg.qr(_head_weights(enc, head)["W_o"])  # (d, s), orthonormal
    u = b[0] - b[1]
    gen = torch.Generator().manual_seed(seed + 1)
    basis = [u / u.norm()]
    while len(basis) < 3:
        z = torch.randn(enc.head_size, generator=gen, dtype=torch.float64).to(b.device)
        v = span @ z
        for w in basis:
            v = v - (v @ w) * w
        basis.append(v / v.norm())
    g, h = basis[1], basis[2]
    r = radius * float(u.norm())
    sign = 1.0 if same_direction else -1.0
    offsets = torch.stack([r * (g + tilt * h), r * (sign * g + tilt * h)])
    return RayData(ids, states, head, offsets, None)


def prompt_dataset(
    enc: Encoder, seed: int = 0, *, head: int = 0, prompt_length: int = 2, boost: float = 0.0
) -> RayData:
    """The control: the inputs of :func:`ray_dataset` (same seed) with targets that the
    prompt ``P*`` produces at every level; a prompt fits them exactly by construction.

    ``P*`` holds the vectors of ``prompt_length`` random words (:func:`word_embeddings`,
    seed ``seed + 7``), each plus ``boost`` times the unit vector along which head
    ``head``'s key scores the ``[CLS]`` query highest (``W_k^T q``): a larger ``boost``
    draws more of the head's attention to the prompt, so the targets move further."""
    enc = _check_encoder(enc)
    seed = check_int(seed, "seed", minimum=0)
    head = _check_head(enc, head)
    prompt_length = check_int(prompt_length, "prompt_length", minimum=1)
    boost = check_real(boost, "boost")
    ids = _pair_ids(enc, seed)
    states = input_states(enc, ids)
    W = _head_weights(enc, head)
    q = states[0, 0].double() @ W["W_q"].T + W["b_q"]
    k_dir = W["W_k"].T @ q
    P = word_embeddings(enc, prompt_length, seed + 7) + boost * (k_dir / k_dir.norm()).to(
        states.dtype
    )
    return RayData(ids, states, head, None, P)


def _check_data(data: object) -> RayData:
    if not isinstance(data, RayData):
        raise TypeError(f"data must be a RayData, got {type(data).__name__}")
    return data


def level_targets(enc: Encoder, data: RayData, level: str) -> torch.Tensor:
    """The targets ``(2, d)`` of ``data`` at ``level``: the ``[CLS]`` output with head
    ``h`` moved by the offsets (ray dataset), or with the generating prompt (control)."""
    enc, data, level = _check_encoder(enc), _check_data(data), _check_level(level)
    with torch.no_grad():
        return level_output(
            enc, level, data.states, data.prompt, head=data.head, offsets=data.offsets
        )


def fit_prompts(
    enc: Encoder,
    datasets: Sequence[RayData],
    level: str,
    prompt_length: int,
    *,
    steps: int = 100,
    lr: float = 0.05,
) -> torch.Tensor:
    """Tune one prompt of ``prompt_length`` tokens per dataset of ``datasets`` (all for
    the same head), each from :func:`word_embeddings` (seed ``0``), to that dataset's
    targets at ``level``, by ``steps`` Adam steps on the loss
    ``(1/2) sum_i ||out_i - y_i||^2`` (the mean over the two examples, as in the
    ``unmemorizable_dataset`` chapter), all in one batch (Adam updates each entry on its
    own, so each run is the run it would be alone). Returns the losses
    ``(steps + 1, len(datasets))``: before each step and after the last."""
    enc, level = _check_encoder(enc), _check_level(level)
    if not isinstance(datasets, Sequence) or not datasets:
        raise TypeError(f"datasets must be a non-empty list of RayData, got {datasets!r:.60}")
    datasets = [_check_data(d) for d in datasets]
    if len({d.head for d in datasets}) != 1:
        raise ValueError("datasets must all be built for the same head")
    head = datasets[0].head
    prompt_length = check_int(prompt_length, "prompt_length", minimum=1)
    steps, lr = _steps_lr(steps, lr)
    Y = torch.cat([level_targets(enc, d, level) for d in datasets])
    states = torch.cat([d.states for d in datasets])
    dtype = torch.float64 if level == "head" else states.dtype
    start = word_embeddings(enc, prompt_length, 0).to(dtype)
    P = start[None].repeat(len(datasets), 1, 1).requires_grad_(True)
    layers = enc.model.encoder.layer[: 1 if level == "layer" else enc.layers]

    def losses() -> torch.Tensor:
        seq = _insert(states.to(dtype), P.repeat_interleave(2, dim=0))
        if level == "head":
            out = _head_on(enc, head, seq)
        else:
            out = _encode(layers, seq)[:, 0]
        return (out - Y.to(out.dtype)).pow(2).sum(-1).view(-1, 2).mean(-1)

    return _adam([P], losses, steps, lr)


def no_prompt_loss(enc: Encoder, data: RayData, level: str) -> float:
    """``(1/2) sum_i ||out_i - y_i||^2`` of the model at ``level`` without a prompt."""
    Y = level_targets(enc, data, level)
    with torch.no_grad():
        out = level_output(enc, level, data.states, head=data.head)
    return float((out.to(Y.dtype) - Y).pow(2).sum(-1).mean())


def ray_problem(enc: Encoder, data: RayData) -> tuple[Transformer, torch.Tensor, torch.Tensor]:
    """The one-head sub-model and ``data``'s targets as a ``ptheory`` single layer, for
    ``ptheory.capacity.ray_bound``: returns ``(model, X, Y)`` with ``X: (2, d + 1, 3)``
    and ``Y: (2, d + 1, 1)`` in float64.

    Tokens get a last coordinate 1, so the biases become weights: ``W_Q' = [[W_q, b_q],
    [0, 0]]``, ``W_K' = [[W_k, b_k], [0, 0]]`` (an extra row of zeros, which adds nothing
    to the scores, so that the head size is ``s + 1`` throughout),
    ``W_V' = [[W_v, b_v], [0, 1]]``, ``W_O' = [[W_o, b_o], [0, 0]]``
    and the feed-forward layer is the identity (``kappa = 0``). The columns are reordered
    ``[w_i, SEP, CLS]`` (the shared query last, as ``ray_bound`` wants; attention does not
    see the order). For a prompt ``P`` the model's last output column, without its last
    coordinate, is :func:`head_output`; prompts of the ``ptheory`` model may have any last
    coordinate, so its prompts include the real ones and the bound covers them."""
    enc, data = _check_encoder(enc), _check_data(data)
    W = _head_weights(enc, data.head)
    s, d = enc.head_size, enc.d
    zero_s = torch.zeros(1, s, dtype=torch.float64)
    zero_row = torch.zeros(1, d + 1, dtype=torch.float64)  # a score-free extra row
    W_Q = torch.cat([torch.cat([W["W_q"], W["b_q"][:, None]], dim=1), zero_row])
    W_K = torch.cat([torch.cat([W["W_k"], W["b_k"][:, None]], dim=1), zero_row])
    W_V = torch.cat(
        [
            torch.cat([W["W_v"], W["b_v"][:, None]], dim=1),
            torch.cat([torch.zeros(1, d, dtype=torch.float64), torch.ones(1, 1)], dim=1),
        ]
    )
    W_O = torch.cat(
        [
            torch.cat([W["W_o"], W["b_o"][:, None]], dim=1),
            torch.cat([zero_s, torch.zeros(1, 1, dtype=torch.float64)], dim=1),
        ]
    )
    attn = Attention.from_weights(
        W_Q.detach().cpu(),
        W_K.detach().cpu(),
        W_V.detach().cpu(),
        W_O.detach().cpu(),
        scale=1.0 / math.sqrt(s),
    )
    z = torch.zeros
    ff = FeedForward.from_weights(
        z(1, d + 1, dtype=torch.float64),
        z(1, dtype=torch.float64),
        z(d + 1, 1, dtype=torch.float64),
        z(d + 1, dtype=torch.float64),
    )
    model = Transformer([attn, ff]).freeze()
    t = data.states.double().cpu()
    ones = torch.ones(*t.shape[:2], 1, dtype=torch.float64)
    X = torch.cat([t, ones], dim=2)[:, [1, 2, 0]].transpose(1, 2)  # (2, d + 1, 3)
    y = level_targets(enc, data, "head").cpu()
    Y = torch.cat([y, torch.ones(y.shape[0], 1, dtype=torch.float64)], dim=1)[:, :, None]
    return model, X, Y
