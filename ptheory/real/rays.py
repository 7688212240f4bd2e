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
A prompt is a soft prompt at the book's ``"input"`` placement or a prefix (``"prefix"``,
keys and values at every layer; the input keeps its positions).
:func:`ray_problem` writes the one-head sub-model as a bias-free ``ptheory`` single layer
(an extra coordinate 1 absorbs the biases) for :func:`ptheory.capacity.ray_bound`, whose
bound holds for every point ``a`` and every prompt mass ``T``, hence for soft prompts and
prefixes of that head alike; :func:`prompt_dataset` is the control (targets made by a
prompt or a prefix).

States follow ``transformers``, ``(N, n, d)``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

import torch

from .._validate import check_int, check_real
from ..model import Attention, FeedForward, Transformer, torch_threads
from .loader import Encoder, check_encoder
from .prompted import Prefix, encode, word_prefix, word_prompt, word_tokens

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

KINDS = ("prompt", "prefix")


@dataclass(frozen=True)
class RayData:
    """Two inputs ``[CLS, w_i, SEP]`` that share the query ``[CLS]``, and what the model
    should output at ``[CLS]``.

    Attributes:
        ids: ``(2, 3)`` token ids.
        head: the head ``h`` of the first layer the dataset is built for (from 0).
        offsets: ``(2, d)`` (ray dataset): the change ``e_i = c_i - b_i`` asked of head
            ``h``'s output at ``[CLS]``, or ``None``.
        prompt: (control) the soft prompt ``(d, L_p)`` or :class:`Prefix` whose outputs are
            the targets, or ``None``.
    """

    ids: torch.Tensor
    head: int
    offsets: torch.Tensor | None
    prompt: torch.Tensor | Prefix | None


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


def _kind(prompt: object) -> str:
    return "prefix" if isinstance(prompt, Prefix) else "input"


def _first_layer_input(enc: Encoder, ids: torch.Tensor, prompt: object) -> torch.Tensor:
    """The columns layer 1 reads, ``(N, n, d)``: a soft prompt's first."""
    soft = prompt if (prompt is not None and not isinstance(prompt, Prefix)) else None
    run = encode(enc, ids, soft, layers=1, record=True)
    return run.inputs[0]


def _head_on(
    enc: Encoder,
    head: int,
    t: torch.Tensor,
    prefix_kv: tuple[torch.Tensor, torch.Tensor] | None = None,
) -> torch.Tensor:
    """The one-head sub-model at the query ``[CLS]`` (the first column of ``t`` that is not
    a prompt's: ``t`` holds ``n_p`` prompt columns, then the input), float64, ``(N, d)``.
    ``t: (N, n, d)``; ``prefix_kv``: the head's prefix keys and values ``(N, L_k, s)``."""
    W = _head_weights(enc, head)
    t = t.double()
    n_p = t.shape[1] - 3  # the inputs are [CLS, w, SEP]
    x0 = t[:, n_p]
    q = x0 @ W["W_q"].T + W["b_q"]  # (N, s)
    k = t @ W["W_k"].T + W["b_k"]  # (N, n, s)
    v = t @ W["W_v"].T + W["b_v"]
    if prefix_kv is not None:
        k = torch.cat([prefix_kv[0].double(), k], dim=1)
        v = torch.cat([prefix_kv[1].double(), v], dim=1)
    w = torch.softmax((k @ q[:, :, None])[..., 0] / math.sqrt(enc.head_size), dim=-1)
    return x0 + W["b_o"] + (w[:, None] @ v)[:, 0] @ W["W_o"].T


def _prefix_head(prefix: Prefix, head: int, N: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Layer 1, head ``head`` of a prefix, as rows ``(N, L_k, s)``."""
    k, v = prefix.keys, prefix.values
    if k.dim() == 4:
        k, v = k[None].expand(N, *k.shape), v[None].expand(N, *v.shape)
    return k[:, 0, head].transpose(-1, -2), v[:, 0, head].transpose(-1, -2)


def head_output(
    enc: Encoder, ids: torch.Tensor, prompt: torch.Tensor | Prefix | None = None, *, head: int = 0
) -> torch.Tensor:
    """The one-head sub-model at the query ``[CLS]`` (float64), ``(N, d)``, for inputs
    ``ids: (N, 3)`` (``[CLS, w, SEP]``):

    ``u = x_0 + b_o + W_o^h sum_j softmax_j(s (W_k^h t_j + b_k) . (W_q^h x_0 + b_q))
    (W_v^h t_j + b_v)`` over the columns ``t_j`` of ``[P, X]`` (a soft prompt at the
    ``"input"`` placement), ``s = 1/sqrt(head size)``, with a prefix's keys and values of
    this head prepended to the sums: layer 1 before its LayerNorm, with the other heads
    removed. The segment lemma holds for it exactly (``b_v`` and ``b_o`` pass through the
    convex combination; ``b_k`` adds the same score to every column)."""
    enc = check_encoder(enc)
    head = _check_head(enc, head)
    ids = _check_pair(enc, ids)
    t = _first_layer_input(enc, ids, prompt)
    kv = _prefix_head(prompt, head, ids.shape[0]) if isinstance(prompt, Prefix) else None
    return _head_on(enc, head, t, kv)


def _check_pair(enc: Encoder, ids: object) -> torch.Tensor:
    if not isinstance(ids, torch.Tensor) or ids.dtype != torch.long or ids.dim() != 2:
        raise TypeError(f"ids must be an int64 tensor (N, 3) of token ids, got {ids!r:.60}")
    if ids.shape[1] != 3:
        raise ValueError(f"ids must have shape (N, 3): [CLS, w, SEP], got {tuple(ids.shape)}")
    return ids


def _check_level(level: object) -> str:
    if level not in LEVELS:
        raise ValueError(f"level must be one of {LEVELS}, got {level!r}")
    return str(level)


def level_output(
    enc: Encoder,
    level: str,
    ids: torch.Tensor,
    prompt: torch.Tensor | Prefix | None = None,
    *,
    head: int = 0,
    offsets: torch.Tensor | None = None,
) -> torch.Tensor:
    """The ``[CLS]`` output ``(N, d)`` of a nested model with ``prompt`` (a soft prompt at
    the ``"input"`` placement, or a :class:`Prefix`): ``"head"`` (:func:`head_output`,
    float64), ``"layer"`` (layer 1 as it is) or ``"model"`` (all layers).
    ``offsets: (N, d)`` adds to layer 1's attention output at ``[CLS]`` (``"layer"``,
    ``"model"``; for ``"head"`` it is added to the output)."""
    enc = check_encoder(enc)
    level = _check_level(level)
    if level == "head":
        out = head_output(enc, ids, prompt, head=head)
        return out if offsets is None else out + offsets.double()
    layers = 1 if level == "layer" else enc.layers
    run = encode(enc, _check_pair(enc, ids), prompt, placement=_kind(prompt), layers=layers,
                 cls_offsets=offsets)  # fmt: skip
    return run.outputs[:, 0]


def _pair_ids(enc: Encoder, seed: int) -> torch.Tensor:
    words = word_tokens(enc)
    gen = torch.Generator().manual_seed(seed)
    chosen = words[torch.randperm(len(words), generator=gen)[:2]]
    cls, sep = (1, 2) if enc.tokenizer is None else (enc.tokenizer.cls_token_id,
                                                     enc.tokenizer.sep_token_id)  # fmt: skip
    return torch.stack([torch.tensor([int(cls), int(w), int(sep)]) for w in chosen])


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

    Two random whole words give ``X_i = [CLS, w_i, SEP]``, which share the query ``x_0``
    (``[CLS]``, position 0). With ``b_i`` the head's output without a prompt
    (:func:`head_output`) and ``g, h`` orthonormal, orthogonal to ``b_1 - b_2`` and drawn
    at random (from ``seed``) **in the head's output range** (the column space of its
    block ``W_o^h: (d, s)`` of the output projection, which holds ``b_1 - b_2``), the
    outputs asked for are ``c_1 = b_1 + r (g + tilt h)`` and
    ``c_2 = b_2 + r (-g + tilt h)`` with ``r = radius * ||b_1 - b_2||``: the closed rays
    ``{c_i + s (c_i - b_i), s >= 0}`` never meet (as in ``ptheory.capacity.
    unmemorizable_dataset``). The offsets ``e_i = c_i - b_i`` lie in the range of
    ``W_o^h``, so a change of the head's own weights can produce them (a rank-2 change of
    ``W_v^h``, when the two token mixtures are independent). ``same_direction=True`` turns
    the second offset around (``+g``): the rays are parallel and point the same way; they
    still never meet (the certified bound stays positive), but the two offsets are equal
    and the masses nearly so, so ``E_1 e_1 = E_2 e_2`` is almost met and the bound is tiny.
    Needs a head size of at least 3."""
    enc = check_encoder(enc)
    seed = check_int(seed, "seed", minimum=0)
    head = _check_head(enc, head)
    radius = check_real(radius, "radius", minimum=0.0, strict_minimum=True)
    tilt = check_real(tilt, "tilt", minimum=0.0)
    if not isinstance(same_direction, bool):
        raise TypeError(f"same_direction must be a bool, got {type(same_direction).__name__}")
    if enc.head_size < 3:
        raise ValueError(f"enc must have heads of size at least 3, got {enc.head_size}")
    ids = _pair_ids(enc, seed)
    with torch.no_grad():
        b = head_output(enc, ids, head=head)
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
    return RayData(ids, head, offsets, None)


def prompt_dataset(
    enc: Encoder,
    seed: int = 0,
    *,
    head: int = 0,
    prompt_length: int = 2,
    boost: float = 0.0,
    kind: str = "prompt",
) -> RayData:
    """The control: the inputs of :func:`ray_dataset` (same seed) with targets that a
    prompt ``P*`` (``kind="prompt"``) or a prefix (``kind="prefix"``) produces at every
    level; a prompt of that kind fits them exactly by construction.

    ``P*`` holds the first-layer vectors of ``prompt_length`` random words
    (:func:`~ptheory.real.word_prompt`, seed ``seed + 7``), each plus ``boost`` times the
    unit vector along which head ``head``'s key scores the ``[CLS]`` query highest
    (``W_k^T q``): a larger ``boost`` draws more of the head's attention to the prompt, so
    the targets move further. The prefix is :func:`~ptheory.real.word_prefix` of the same
    words, its layer-1 keys of head ``head`` plus ``boost`` times the unit vector along
    ``q`` (times the norm of ``W_k^h``'s largest row, to match the prompt's scale)."""
    enc = check_encoder(enc)
    seed = check_int(seed, "seed", minimum=0)
    head = _check_head(enc, head)
    prompt_length = check_int(prompt_length, "prompt_length", minimum=1)
    boost = check_real(boost, "boost")
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    ids = _pair_ids(enc, seed)
    W = _head_weights(enc, head)
    x0 = _first_layer_input(enc, ids[:1], None)[0, 0].double()
    q = x0 @ W["W_q"].T + W["b_q"]
    if kind == "prompt":
        k_dir = W["W_k"].T @ q
        P = word_prompt(enc, prompt_length, seed=seed + 7)
        P = P + boost * (k_dir / k_dir.norm()).to(P.dtype)[:, None]
        return RayData(ids, head, None, P)
    prefix = word_prefix(enc, prompt_length, seed=seed + 7)
    keys = prefix.keys.clone()
    scale = float(torch.linalg.matrix_norm(W["W_k"], ord=2))
    keys[0, head] = keys[0, head] + boost * scale * (q / q.norm()).to(keys.dtype)[:, None]
    return RayData(ids, head, None, Prefix(keys, prefix.values))


def _check_data(data: object) -> RayData:
    if not isinstance(data, RayData):
        raise TypeError(f"data must be a RayData, got {type(data).__name__}")
    return data


def level_targets(enc: Encoder, data: RayData, level: str) -> torch.Tensor:
    """The targets ``(2, d)`` of ``data`` at ``level``: the ``[CLS]`` output with head
    ``h`` moved by the offsets (ray dataset), or with the generating prompt (control)."""
    enc, data, level = check_encoder(enc), _check_data(data), _check_level(level)
    with torch.no_grad():
        return level_output(enc, level, data.ids, data.prompt, head=data.head,
                            offsets=data.offsets)  # fmt: skip


def fit_prompts(
    enc: Encoder,
    datasets: Sequence[RayData],
    level: str,
    prompt_length: int,
    *,
    kind: str = "prompt",
    steps: int = 100,
    lr: float = 0.05,
    seed: int = 0,
    optimizer: str = "adam",
) -> torch.Tensor:
    """Tune one soft prompt (``kind="prompt"``, the ``"input"`` placement) or one prefix
    (``kind="prefix"``) of ``prompt_length`` tokens per dataset of ``datasets`` (all for the
    same head), each started at the same random words (seed ``seed``:
    :func:`~ptheory.real.word_prompt` or :func:`~ptheory.real.word_prefix`), to that
    dataset's targets at ``level``, by ``steps`` Adam steps on the loss
    ``(1/2) sum_i ||out_i - y_i||^2`` (the mean over the two examples, as in the
    ``unmemorizable_dataset`` chapter), all in one batch (Adam updates each entry on its
    own, so each run is the run it would be alone). At the ``"head"`` level a prefix's
    only entries that matter, the layer-1 keys and values of the head, are tuned. Runs on
    one CPU thread. Returns the losses ``(steps + 1, len(datasets))``: before each step
    and after the last.

    ``optimizer="lbfgs"``: L-BFGS instead (history 20, strong Wolfe line search, at most
    ``steps`` function evaluations, ``lr`` unused), one dataset at a time; returns the
    lowest loss so far at each evaluation, ``(steps, len(datasets))``."""
    enc, level = check_encoder(enc), _check_level(level)
    if not isinstance(datasets, Sequence) or not datasets:
        raise TypeError(f"datasets must be a non-empty list of RayData, got {datasets!r:.60}")
    datasets = [_check_data(d) for d in datasets]
    if len({d.head for d in datasets}) != 1:
        raise ValueError("datasets must all be built for the same head")
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    head = datasets[0].head
    prompt_length = check_int(prompt_length, "prompt_length", minimum=1)
    steps = check_int(steps, "steps", minimum=0)
    lr = check_real(lr, "lr", minimum=0.0, strict_minimum=True)
    seed = check_int(seed, "seed", minimum=0)
    if optimizer not in ("adam", "lbfgs"):
        raise ValueError(f"optimizer must be 'adam' or 'lbfgs', got {optimizer!r}")
    if optimizer == "lbfgs" and len(datasets) > 1:
        curves = [fit_prompts(enc, [d], level, prompt_length, kind=kind, steps=steps,
                              seed=seed, optimizer="lbfgs")[:, 0] for d in datasets]  # fmt: skip
        return torch.stack(curves, dim=1)
    D = len(datasets)
    Y = torch.cat([level_targets(enc, d, level) for d in datasets])
    ids = torch.cat([d.ids for d in datasets])
    dtype = torch.float64 if level == "head" else next(enc.model.parameters()).dtype
    layers = 1 if level == "layer" else enc.layers
    if kind == "prompt":
        start = word_prompt(enc, prompt_length, seed=seed).to(dtype)
        params = [start[None].repeat(D, 1, 1).requires_grad_(True)]  # (D, d, L_p)
        x = _first_layer_input(enc, ids, None).to(dtype) if level == "head" else None

        def outputs() -> torch.Tensor:
            P = params[0].repeat_interleave(2, dim=0)
            if level == "head":
                return _head_on(enc, head, torch.cat([P.transpose(1, 2), x], dim=1))
            return encode(enc, ids, P, layers=layers).outputs[:, 0]
    else:
        start = word_prefix(enc, prompt_length, seed=seed)
        if level == "head":
            k0, v0 = _prefix_head(start, head, 1)
            params = [k0.to(dtype).repeat(D, 1, 1).requires_grad_(True),
                      v0.to(dtype).repeat(D, 1, 1).requires_grad_(True)]  # fmt: skip
            x = _first_layer_input(enc, ids, None).to(dtype)
        else:
            params = [t.to(dtype)[None].repeat(D, 1, 1, 1, 1).requires_grad_(True)
                      for t in (start.keys, start.values)]  # fmt: skip

        def outputs() -> torch.Tensor:
            k, v = (p.repeat_interleave(2, dim=0) for p in params)
            if level == "head":
                return _head_on(enc, head, x, (k, v))
            return encode(enc, ids, Prefix(k, v), placement="prefix", layers=layers).outputs[:, 0]

    def losses() -> torch.Tensor:
        return (outputs() - Y.to(dtype)).pow(2).sum(-1).view(-1, 2).mean(-1)

    if optimizer == "lbfgs":
        opt = torch.optim.LBFGS(params, lr=1.0, max_iter=steps, max_eval=steps,
                                history_size=20, line_search_fn="strong_wolfe",
                                tolerance_grad=0.0, tolerance_change=0.0)  # fmt: skip
        seen: list[float] = []

        def closure() -> torch.Tensor:
            opt.zero_grad()
            value = losses().sum()
            value.backward()
            seen.append(float(value.detach()))
            return value

        with torch_threads(1):
            opt.step(closure)
        best = torch.tensor(seen, dtype=torch.float64).cummin(0).values
        best = torch.cat([best, best[-1:].expand(steps - len(best))])
        return best[:, None]
    opt = torch.optim.Adam(params, lr=lr)
    curve = []
    with torch_threads(1):
        for _ in range(steps):
            opt.zero_grad()
            loss = losses()
            curve.append(loss.detach())
            loss.sum().backward()
            opt.step()
        with torch.no_grad():
            curve.append(losses().detach())
    return torch.stack(curve).double().cpu()


def no_prompt_loss(enc: Encoder, data: RayData, level: str) -> float:
    """``(1/2) sum_i ||out_i - y_i||^2`` of the model at ``level`` without a prompt."""
    Y = level_targets(enc, data, level)
    with torch.no_grad():
        out = level_output(enc, level, data.ids, head=data.head)
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
    coordinate, is :func:`head_output`. The bound relaxes over every point ``a`` and every
    prompt mass ``T``, so it covers every soft prompt and every prefix of the head."""
    enc, data = check_encoder(enc), _check_data(data)
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
    t = _first_layer_input(enc, data.ids, None).double().cpu()
    ones = torch.ones(*t.shape[:2], 1, dtype=torch.float64)
    X = torch.cat([t, ones], dim=2)[:, [1, 2, 0]].transpose(1, 2)  # (2, d + 1, 3)
    y = level_targets(enc, data, "head").cpu()
    Y = torch.cat([y, torch.ones(y.shape[0], 1, dtype=torch.float64)], dim=1)[:, :, None]
    return model, X, Y


def scaled(data: RayData, factor: float) -> RayData:
    """``data`` with its offsets multiplied by ``factor`` (a ray dataset only)."""
    data = _check_data(data)
    if data.offsets is None:
        raise ValueError("data must be a ray dataset (with offsets)")
    factor = check_real(factor, "factor")
    return replace(data, offsets=data.offsets * factor)
