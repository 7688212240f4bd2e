"""The segment lemma in a real model: every head of every layer of a BERT encoder.

The book's lemma (``ptheory.segments``, chapter *The prompt-tuning model*): for one
softmax head, a query ``x``, a prompt ``P`` and an input ``X``,

    Att(x, [P, X]) = lam * Att(x, P) + (1 - lam) * Att(x, X),

``lam`` the softmax mass on the prompt's columns. This module tests it head by head on a
:class:`~ptheory.real.loader.Encoder` (``transformers``' ``BertModel``, eager attention).

The prompt ``P: (d, L_p)`` is inserted **after** the embedding layer: the encoder's six
layers read ``[P, E(X)]``, where ``E(X)`` are the embedding layer's outputs for the
sentence at its usual positions ``0, ..., L - 1``. So the input's own layer-0 states are
exactly those of the run without a prompt, and the prompt enters only through attention:
this is the book's ``tau([P, X])`` with ``tau`` the stack of layers.

What is computed, for the input's columns as queries (padding excluded):

- :func:`head_split`: in the prompted run's own layer inputs, for every head ``h`` of a
  layer, the head's output ``o_h`` read from the model (its slice of the context vector,
  mapped by its block ``W_O^h`` of the output matrix), and ``a_h = Att_h(x, P)``,
  ``b_h = Att_h(x, X)`` and ``lam_h`` recomputed from the layer's weights, value bias and
  attention mask included. The lemma says ``o_h = lam_h a_h + (1 - lam_h) b_h`` exactly.
- :func:`measure_segments`: over all layers and heads, the identity's error, and the
  distance of ``o_h`` from the segment between the **unprompted** run's head output
  ``bbar_h`` and ``a_h``, which the lemma does not control beyond the first layer, because
  the prompt has changed the earlier layers' outputs.

Every distance from a segment is the book's (:func:`ptheory.segments.segment_fit`): the
Euclidean distance of the point from the closed segment ``[b, a]``, divided by the
segment's length ``||a - b||``.
- :func:`measure_bending`: in the prompted run, one head at a time, how far the rest of
  the layer (the other heads, output bias and residual, LayerNorm, feed-forward layer,
  LayerNorm) carries the layer's output off the chord between the outputs the layer
  would give with that head at ``lam = 0`` and at ``lam = 1``.

Tensors of per-head vectors follow the book's layout, tokens as columns:
``(N, heads, d, L)``; the encoder's own states keep ``transformers``' layout
``(N, n, d)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from .._validate import as_tensor, check_int
from ..model import torch_threads
from ..segments import segment_fit
from .criterion import TunedPrompt
from .loader import Encoder, check_encoder
from .prompted import Encoded, Prefix, encode, random_prompt, word_prefix, word_prompt

__all__ = [
    "PROMPT_KINDS",
    "SENTENCES",
    "STAGES",
    "Bending",
    "HeadSplit",
    "SegmentMeasurement",
    "head_median",
    "head_outputs",
    "head_split",
    "identity_gap",
    "layer_quantiles",
    "make_prompt",
    "measure_bending",
    "measure_prompts",
    "measure_segments",
    "tokenize_sentences",
    "tune_on_sentences",
]

PROMPT_KINDS = ("words", "random")
"""The untuned soft prompts of the chapter: vocabulary words as the first layer reads
them, or random vectors of the same column norms."""

SENTENCES = (
    "The cat sat on the mat by the door.",
    "A soft prompt is a short matrix of learned vectors.",
    "Attention mixes the tokens of a sentence.",
    "It rained all day in the small town.",
    "Transformers read the whole input at once.",
    "She bought three apples and a pear.",
)
"""Real input sentences (of different lengths, so that the batch has padding)."""

STAGES = ("residual", "LayerNorm 1", "feed-forward", "LayerNorm 2")
"""The points of a layer at which :func:`measure_bending` measures: after the attention
sublayer's output and residual ``x + sum_h o_h + b_O``; after the first LayerNorm
``u``; after the feed-forward layer and its residual ``u + FF(u)``; after the second
LayerNorm (the layer's output)."""


def tokenize_sentences(
    enc: Encoder, sentences: tuple[str, ...] | list[str] = SENTENCES
) -> tuple[torch.Tensor, torch.Tensor]:
    """Token ids ``(N, L)`` and attention mask ``(N, L)`` (1 for tokens, 0 for padding) of
    ``sentences``, padded to the longest."""
    enc = check_encoder(enc)
    if isinstance(sentences, str) or not isinstance(sentences, (list, tuple)):
        raise TypeError(f"sentences must be a list or tuple of str, got {type(sentences).__name__}")
    if not sentences or not all(isinstance(s, str) and s for s in sentences):
        raise ValueError("sentences must hold at least one non-empty str")
    if enc.tokenizer is None:
        raise ValueError("enc has no tokenizer (tiny_encoder): pass token ids instead")
    out = enc.tokenizer(list(sentences), padding=True, return_tensors="pt")
    return out["input_ids"], out["attention_mask"]


def make_prompt(enc: Encoder, kind: str, length: int, seed: int = 0) -> torch.Tensor:
    """An untuned soft prompt ``P: (d, L_p)`` for the ``"input"`` placement:
    ``kind="words"``, ``length`` random whole words as the first layer reads them
    (:func:`~ptheory.real.word_prompt`); ``kind="random"``, Gaussian columns of the same
    norms (:func:`~ptheory.real.random_prompt`)."""
    enc = check_encoder(enc)
    if kind not in PROMPT_KINDS:
        raise ValueError(f"kind must be one of {PROMPT_KINDS}, got {kind!r}")
    if kind == "words":
        return word_prompt(enc, length, seed=seed)
    return random_prompt(enc, length, seed=seed)


def tune_on_sentences(
    enc: Encoder,
    ids: torch.Tensor,
    mask: torch.Tensor,
    *,
    kind: str = "prompt",
    length: int = 4,
    seed: int = 0,
    steps: int = 30,
    lr: float = 0.05,
) -> TunedPrompt:
    """A soft prompt (``kind="prompt"``, the ``"input"`` placement) or a prefix
    (``kind="prefix"``) of ``length`` tokens, started at random whole words (``seed``) and
    tuned by ``steps`` Adam steps at rate ``lr`` to move every output column of the
    sentences ``ids, mask`` to a random place: 64 numbers read out of each column by a fixed
    random map, targets the untuned outputs plus noise of half their spread (from
    ``seed``). Returns the tuned prompt and its loss relative to the untuned model's (1
    without a prompt, 0 for a perfect fit) before each step and after the last. For the
    chapter's measurements; one CPU thread."""
    enc = check_encoder(enc)
    if kind not in ("prompt", "prefix"):
        raise ValueError(f"kind must be 'prompt' or 'prefix', got {kind!r}")
    length = check_int(length, "length", minimum=1)
    seed = check_int(seed, "seed", minimum=0)
    steps = check_int(steps, "steps", minimum=0)
    if isinstance(lr, bool) or not isinstance(lr, (int, float)) or not lr > 0:
        raise ValueError(f"lr must be a positive number, got {lr!r}")
    gen = torch.Generator().manual_seed(seed + 500)
    readout = torch.randn(64, enc.d, generator=gen, dtype=torch.float64) / math.sqrt(enc.d)
    dtype = next(enc.model.parameters()).dtype
    readout = readout.to(dtype)
    valid = mask.bool()[..., None]
    with torch.no_grad():
        frozen = encode(enc, ids, mask=mask).outputs @ readout.T
    noise = torch.randn(frozen.shape, generator=gen, dtype=torch.float64).to(dtype)
    target = frozen + 0.5 * frozen[valid.expand_as(frozen)].std() * noise
    if kind == "prompt":
        params = [word_prompt(enc, length, seed=seed).clone().requires_grad_(True)]

        def prompt() -> torch.Tensor | Prefix:
            return params[0]
    else:
        start = word_prefix(enc, length, seed=seed)
        params = [start.keys.clone().requires_grad_(True),
                  start.values.clone().requires_grad_(True)]  # fmt: skip

        def prompt() -> torch.Tensor | Prefix:
            return Prefix(params[0], params[1])

    place = "input" if kind == "prompt" else "prefix"
    untuned = float(((frozen - target) * valid).pow(2).sum())

    def loss() -> torch.Tensor:
        out = encode(enc, ids, prompt(), placement=place, mask=mask).outputs @ readout.T
        return ((out - target) * valid).pow(2).sum() / untuned

    opt = torch.optim.Adam(params, lr=lr)
    losses = []
    with torch_threads(1):
        for _ in range(steps):
            opt.zero_grad()
            value = loss()
            losses.append(float(value.detach()))
            value.backward()
            opt.step()
        with torch.no_grad():
            losses.append(float(loss()))
    result = prompt()
    if isinstance(result, Prefix):
        result = Prefix(result.keys.detach().clone(), result.values.detach().clone())
    else:
        result = result.detach().clone()
    return TunedPrompt(result, tuple(losses))


@dataclass(frozen=True)
class HeadSplit:
    """The lemma's pieces for every head of one layer; the input's columns are the queries.

    Attributes:
        output: ``o_h``, each head's output as the model computed it, mapped into the
            residual stream by its block ``W_O^h`` of the output matrix, ``(N, heads, d, L)``.
        prompt_part: ``a_h = Att_h(x, P)``, recomputed from the weights, same shape.
        input_part: ``b_h = Att_h(x, X)``, recomputed from the weights, same shape.
        weight: ``lam_h``, the softmax mass on the prompt's columns, from the scores,
            ``(N, heads, L)``.
        input_weight: ``1 - lam_h``, from the scores without cancellation.
        model_weight: ``lam_h`` read from the model's attention probabilities (their sum
            over the prompt's columns), ``(N, heads, L)``.
    """

    output: torch.Tensor
    prompt_part: torch.Tensor
    input_part: torch.Tensor
    weight: torch.Tensor
    input_weight: torch.Tensor
    model_weight: torch.Tensor

    def combination(self, weight: torch.Tensor | None = None) -> torch.Tensor:
        """``lam a + (1 - lam) b`` per head, with ``lam = weight`` if given (for controls:
        a wrong weight, ``(N, heads, L)`` or broadcastable), else the softmax mass."""
        if weight is None:
            lam, rest = self.weight, self.input_weight
        else:
            lam = as_tensor(weight, "weight", dtype=self.weight.dtype, device=self.weight.device)
            try:
                lam = torch.broadcast_to(lam, self.weight.shape)
            except RuntimeError as err:
                raise ValueError(
                    f"weight must broadcast to {tuple(self.weight.shape)}, got {tuple(lam.shape)}"
                ) from err
            rest = 1.0 - lam
        return lam.unsqueeze(-2) * self.prompt_part + rest.unsqueeze(-2) * self.input_part


def _heads(t: torch.Tensor, heads: int) -> torch.Tensor:
    """``(N, n, d) -> (N, heads, n, head_size)``."""
    N, n, d = t.shape
    return t.reshape(N, n, heads, d // heads).transpose(1, 2)


def _project(enc: Encoder, layer: int, t: torch.Tensor) -> torch.Tensor:
    """Head vectors ``(N, heads, L, head_size)`` to the residual stream by each head's block
    ``W_O^h`` of the output matrix: ``(N, heads, d, L)``."""
    W = enc.model.encoder.layer[layer].attention.output.dense.weight  # (d, d)
    W = W.reshape(enc.d, enc.heads, enc.head_size)
    return torch.einsum("nhls,dhs->nhdl", t, W)


def _check_run(enc: Encoder, run: object, name: str = "run") -> Encoded:
    if not isinstance(run, Encoded):
        raise TypeError(
            f"{name} must be an Encoded run (from encode(..., record=True)), got "
            f"{type(run).__name__}"
        )
    if len(run.context) != enc.layers or run.inputs[0].shape[-1] != enc.d:
        raise ValueError(
            f"{name} must be a recorded run of every layer of this encoder "
            "(encode(..., record=True))"
        )
    return run


def _check_layer(enc: Encoder, layer: object) -> int:
    layer = check_int(layer, "layer", minimum=0)
    if layer >= enc.layers:
        raise ValueError(f"layer must be below {enc.layers}, the number of layers, got {layer}")
    return layer


def head_outputs(enc: Encoder, run: Encoded, layer: int) -> torch.Tensor:
    """The model's head outputs ``o_h = W_O^h Att_h(x, Z)`` at ``layer`` of ``run`` for the
    input's columns as queries: each head's slice of BERT's context vector mapped by its
    block ``W_O^h`` of the output matrix, ``(N, heads, d, L)``. In a run without a prompt
    these are the unprompted outputs ``bbar_h``."""
    enc = check_encoder(enc)
    run = _check_run(enc, run)
    layer = _check_layer(enc, layer)
    with torch.no_grad():
        context = _heads(run.context[layer], enc.heads)[:, :, run.prompt_length :]
        return _project(enc, layer, context)


def head_split(
    enc: Encoder,
    run: Encoded,
    layer: int,
    *,
    use_mask: bool = True,
    value_bias: bool = True,
) -> HeadSplit:
    """The segment lemma's pieces for every head of ``layer``, in ``run``'s own states.

    The prompt's keys and values are those of its columns (a soft prompt) or the prefix's
    own (a prefix). ``a_h``, ``b_h`` and ``lam_h`` are recomputed from the layer's query,
    key and value weights and biases, its score scale ``1/sqrt(head_size)`` and the run's
    attention mask; ``o_h`` is the model's. ``use_mask=False`` and ``value_bias=False``
    recompute the parts without the mask or without the value bias of the columns' values:
    wrong answers, for controls.
    """
    enc = check_encoder(enc)
    run = _check_run(enc, run)
    layer = _check_layer(enc, layer)
    for name, flag in (("use_mask", use_mask), ("value_bias", value_bias)):
        if not isinstance(flag, bool):
            raise TypeError(f"{name} must be a bool, got {type(flag).__name__}")
    L_p, L_k = run.prompt_length, run.prefix_length
    if L_p + L_k == 0:
        raise ValueError("run must have a prompt or a prefix to split its attention")
    attn = enc.model.encoder.layer[layer].attention.self
    x = run.inputs[layer]
    with torch.no_grad():
        q = _heads(attn.query(x[:, L_p:]), enc.heads)  # (N, H, L, s)
        k = _heads(attn.key(x), enc.heads)
        v = _heads(attn.value(x) - (0.0 if value_bias else attn.value.bias), enc.heads)
        if L_k:  # the prefix's own keys and values come first
            k = torch.cat([run.keys[layer][:, :, :L_k], k], dim=2)
            v = torch.cat([run.values[layer][:, :, :L_k], v], dim=2)
        P = L_k + L_p  # the prompt's keys
        scores = q @ k.transpose(-1, -2) / math.sqrt(enc.head_size)  # (N, H, L, n_k)
        if use_mask:
            scores = scores + run.mask[:, None, L_p:, :]
        total = torch.logsumexp(scores, dim=-1)
        prompt_scores, input_scores = scores[..., :P], scores[..., P:]
        a = torch.softmax(prompt_scores, dim=-1) @ v[:, :, :P]
        b = torch.softmax(input_scores, dim=-1) @ v[:, :, P:]
        return HeadSplit(
            output=head_outputs(enc, run, layer),
            prompt_part=_project(enc, layer, a),
            input_part=_project(enc, layer, b),
            weight=torch.exp(torch.logsumexp(prompt_scores, dim=-1) - total),
            input_weight=torch.exp(torch.logsumexp(input_scores, dim=-1) - total),
            model_weight=run.probs[layer][:, :, L_p:, :P].sum(dim=-1),
        )


def identity_gap(
    split: HeadSplit, valid: torch.Tensor, weight: torch.Tensor | float | None = None
) -> torch.Tensor:
    """The lemma's check, per head: the largest entry of
    ``|o_h - (lam a_h + (1 - lam) b_h)|`` over the queries where ``valid: (N, L)`` is True,
    with ``lam`` the softmax mass, or ``weight`` if given (a wrong weight, for a control).
    Returns ``(heads,)``."""
    if not isinstance(split, HeadSplit):
        raise TypeError(f"split must be a HeadSplit (from head_split), got {type(split).__name__}")
    if not isinstance(valid, torch.Tensor) or valid.dtype != torch.bool:
        raise TypeError(f"valid must be a bool tensor (N, L), got {type(valid).__name__}")
    N, _, L = split.weight.shape
    if tuple(valid.shape) != (N, L):
        raise ValueError(f"valid must have shape (N, L) = ({N}, {L}), got {tuple(valid.shape)}")
    if weight is not None and not isinstance(weight, torch.Tensor):
        weight = torch.tensor(float(weight), dtype=split.weight.dtype)
    gap = (split.output - split.combination(weight)).abs() * valid[:, None, None, :]
    return gap.amax(dim=(0, 2, 3))


@dataclass(frozen=True)
class SegmentMeasurement:
    """The segment lemma measured over every layer and head of an encoder, for one prompt.

    Attributes:
        identity_error: ``(layers, heads)``, the largest entry of
            ``|o_h - (lam_h a_h + (1 - lam_h) b_h)|`` in the prompted run's own states.
        output_scale: ``(layers, heads)``, the largest entry of ``|o_h|``, for scale.
        weight_mismatch: ``(layers, heads)``, the largest ``|lam_h - lam_h^model|``.
        weight: ``lam_h``, ``(layers, heads, N, L)``.
        off_segment: the distance of ``o_h`` from the segment between the unprompted
            run's head output ``bbar_h`` and ``a_h``, over ``||a_h - bbar_h||``,
            ``(layers, heads, N, L)``.
        own_off_segment: the same with the prompted run's ``b_h`` in place of ``bbar_h``:
            the lemma's prediction, zero up to rounding, ``(layers, heads, N, L)``.
        multihead_off_segment: ``(layers, N, L)``, the distance of the layer's whole
            attention output ``sum_h o_h`` from the segment between
            ``sum_h b_h`` and ``sum_h a_h`` (prompted run's states): several heads, several
            weights, so not on a segment.
        state_change: ``(layers + 1, N, L)``, ``||x^l - xbar^l|| / ||xbar^l||`` for each
            input column: how far the prompt has moved the layer-``l`` input (``l = layers``:
            the encoder's output) from the unprompted run's.
        prompt_spread: ``(layers,)``, the largest ``||k^l_i - k^l_1|| / ||k^l_1||`` over
            sentences ``i``, heads and the prompt's keys and values ``k^l`` at layer ``l``:
            how much what the prompt offers the heads depends on the sentence (zero for a
            prefix, whose keys and values are fixed).
        valid: ``(N, L)``, True on the input's tokens.
    """

    identity_error: torch.Tensor
    output_scale: torch.Tensor
    weight_mismatch: torch.Tensor
    weight: torch.Tensor
    off_segment: torch.Tensor
    own_off_segment: torch.Tensor
    multihead_off_segment: torch.Tensor
    state_change: torch.Tensor
    prompt_spread: torch.Tensor
    valid: torch.Tensor


def measure_segments(enc: Encoder, prompted: Encoded, plain: Encoded) -> SegmentMeasurement:
    """Measure the segment lemma over every layer and head (see :class:`SegmentMeasurement`).

    ``prompted``: a recorded run with a prompt or prefix; ``plain``: the recorded run of
    the same sentences without one (``encode(enc, ids, mask=mask, record=True)``), whose
    head outputs are the ``bbar_h``.
    """
    enc = check_encoder(enc)
    prompted = _check_run(enc, prompted, "prompted")
    plain = _check_run(enc, plain, "plain")
    L_p, P = prompted.prompt_length, prompted.prompt_length + prompted.prefix_length
    if P == 0:
        raise ValueError("prompted must have a prompt or a prefix")
    if plain.prompt_length + plain.prefix_length != 0:
        raise ValueError("plain must be a run without a prompt")
    if plain.valid.shape != prompted.valid.shape or not bool((plain.valid == prompted.valid).all()):
        raise ValueError("plain must be a run of the same sentences as prompted")
    rows: dict[str, list[torch.Tensor]] = {
        k: [] for k in ("err", "scale", "mis", "lam", "off", "own", "multi")
    }
    for layer in range(enc.layers):
        split = head_split(enc, prompted, layer)
        bbar = head_outputs(enc, plain, layer)
        valid = prompted.valid[:, None, None, :]  # (N, 1, 1, L)
        rows["err"].append(identity_gap(split, prompted.valid))
        rows["scale"].append((split.output.abs() * valid).amax(dim=(0, 2, 3)))
        lam_gap = (split.weight - split.model_weight).abs() * prompted.valid[:, None, :]
        rows["mis"].append(lam_gap.amax(dim=(0, 2)))
        rows["lam"].append(split.weight.transpose(0, 1))
        rows["off"].append(segment_fit(split.output, split.prompt_part, bbar)[1].transpose(0, 1))
        own = segment_fit(split.output, split.prompt_part, split.input_part)[1]
        rows["own"].append(own.transpose(0, 1))
        parts = (split.output, split.prompt_part, split.input_part)
        rows["multi"].append(segment_fit(*(p.sum(dim=1) for p in parts))[1])
    offered = [torch.cat([k[:, :, :P], v[:, :, :P]], dim=-1)  # (N, H, P, 2m)
               for k, v in zip(prompted.keys, prompted.values, strict=True)]  # fmt: skip
    spread = torch.stack(
        [
            (torch.linalg.vector_norm(o - o[:1], dim=-1)
             / torch.linalg.vector_norm(o[:1], dim=-1)).max()
            for o in offered
        ]
    )  # fmt: skip
    change = torch.stack(
        [
            torch.linalg.vector_norm(h[:, L_p:] - hbar, dim=-1)
            / torch.linalg.vector_norm(hbar, dim=-1)
            for h, hbar in zip(prompted.inputs, plain.inputs, strict=True)
        ]
    )
    return SegmentMeasurement(
        identity_error=torch.stack(rows["err"]),
        output_scale=torch.stack(rows["scale"]),
        weight_mismatch=torch.stack(rows["mis"]),
        weight=torch.stack(rows["lam"]),
        off_segment=torch.stack(rows["off"]),
        own_off_segment=torch.stack(rows["own"]),
        multihead_off_segment=torch.stack(rows["multi"]),
        state_change=change,
        prompt_spread=spread,
        valid=prompted.valid,
    )


@dataclass(frozen=True)
class Bending:
    """How far the rest of each layer carries one head's segment off a straight line.

    Attributes:
        distance: ``(layers, stages, heads, N, L)``: at each of :data:`STAGES`, with every
            other head fixed at its actual output, the distance of the stage's value
            ``g(lam_h)`` from the chord ``[g(0), g(1)]`` over the chord's length, where ``g(t)``
            is the stage's value when head ``h``'s output is ``t a_h + (1 - t) b_h``.
        reproduction_error: the largest entry of ``|g(lam_h) - model|`` over layers, heads,
            stages and queries: the recomputed stages against the model's own states.
        valid: ``(N, L)``, True on the input's tokens.
    """

    distance: torch.Tensor
    reproduction_error: float
    valid: torch.Tensor


def _stages(
    enc: Encoder, layer: int, x: torch.Tensor, sublayer: torch.Tensor
) -> list[torch.Tensor]:
    """The values of :data:`STAGES` for layer input ``x`` and attention output
    ``sublayer = sum_h o_h`` (without the output bias), both ``(..., d)``."""
    block = enc.model.encoder.layer[layer]
    residual = x + sublayer + block.attention.output.dense.bias
    u = block.attention.output.LayerNorm(residual)
    ff = block.output.dense(block.intermediate(u)) + u
    return [residual, u, ff, block.output.LayerNorm(ff)]


def measure_bending(enc: Encoder, run: Encoded) -> Bending:
    """Measure, for every layer and head of ``run`` (a prompted run), how far the rest of
    the layer bends head ``h``'s segment (see :class:`Bending`).

    Head ``h``'s output is moved along its own segment, ``t a_h + (1 - t) b_h`` with
    ``t = 0, 1`` and the actual ``lam_h``, the other heads kept at their outputs; each
    variant is pushed through the residual, LayerNorm, feed-forward layer and LayerNorm.
    The residual stage is an affine map, so it keeps the point on its chord; the others
    need not.
    """
    enc = check_encoder(enc)
    run = _check_run(enc, run)
    L_p = run.prompt_length
    if L_p + run.prefix_length == 0:
        raise ValueError("run must have a prompt or a prefix")
    distances, worst = [], 0.0
    for layer in range(enc.layers):
        split = head_split(enc, run, layer)
        x = run.inputs[layer][:, L_p:]  # (N, L, d)
        total = split.output.sum(dim=1).transpose(-1, -2)  # (N, L, d)
        with torch.no_grad():  # the stages recomputed for the actual outputs: the model's?
            actual = _stages(enc, layer, x, total)
        for got, want in ((actual[1], run.attention[layer]), (actual[3], run.inputs[layer + 1])):
            gap = (got - want[:, L_p:]).abs() * run.valid[..., None]
            worst = max(worst, float(gap.max()))
        lam = split.weight.unsqueeze(-1)  # (N, H, L, 1)
        direction = (split.prompt_part - split.input_part).transpose(-1, -2)  # (N, H, L, d)
        # t = 0 and t = 1: head h's output moved to t a_h + (1 - t) b_h, the others kept
        shifts = torch.stack([-lam * direction, (1 - lam) * direction])
        with torch.no_grad():
            ends = _stages(enc, layer, x[:, None], total[:, None] + shifts)  # (2, N, H, L, d)
        per_stage = []
        for now, end in zip(actual, ends, strict=True):
            o, b, a = (
                t.transpose(-1, -2) for t in (now[:, None].expand_as(end[0]), end[0], end[1])
            )
            per_stage.append(segment_fit(o, a, b)[1])  # (N, H, L)
        distances.append(torch.stack(per_stage).transpose(1, 2))  # (stages, H, N, L)
    return Bending(distance=torch.stack(distances), reproduction_error=worst, valid=run.valid)


def layer_quantiles(
    values: torch.Tensor, valid: torch.Tensor, q: float | tuple[float, ...] = 0.5
) -> torch.Tensor:
    """Quantiles per layer of ``values: (layers, ..., N, L)`` over everything but the
    layer, counting only the columns where ``valid: (N, L)`` is True.

    Returns ``(layers,)`` for one ``q``, ``(len(q), layers)`` for a tuple.
    """
    values = as_tensor(values, "values")
    if not isinstance(valid, torch.Tensor) or valid.dtype != torch.bool:
        raise TypeError(f"valid must be a bool tensor (N, L), got {type(valid).__name__}")
    if values.ndim < 3 or tuple(values.shape[-2:]) != tuple(valid.shape):
        raise ValueError(
            f"values must have shape (layers, ..., N, L) with (N, L) = {tuple(valid.shape)}, "
            f"got {tuple(values.shape)}"
        )
    qs = (q,) if not isinstance(q, tuple) else q
    if not qs or not all(isinstance(x, (int, float)) and 0 <= x <= 1 for x in qs):
        raise ValueError(f"q must be a number in [0, 1] or a tuple of them, got {q!r}")
    mask = valid.expand(values.shape)
    rows = [values[i][mask[i]] for i in range(values.shape[0])]
    out = torch.stack([torch.quantile(r, torch.tensor(qs, dtype=r.dtype)) for r in rows], dim=-1)
    return out[0] if not isinstance(q, tuple) else out


def measure_prompts(
    enc: Encoder,
    ids: torch.Tensor,
    mask: torch.Tensor,
    prompts: dict[object, torch.Tensor | Prefix],
) -> dict[object, SegmentMeasurement]:
    """:func:`measure_segments` for each named prompt of ``prompts`` (soft prompts at the
    ``"input"`` placement, or prefixes) on the sentences ``ids, mask``, against one
    unprompted run."""
    enc = check_encoder(enc)
    if not isinstance(prompts, dict) or not prompts:
        raise TypeError("prompts must be a non-empty dict {name: soft prompt or Prefix}")
    plain = encode(enc, ids, mask=mask, record=True)
    out = {}
    with torch.no_grad():
        for name, P in prompts.items():
            place = "prefix" if isinstance(P, Prefix) else "input"
            run = encode(enc, ids, P, placement=place, mask=mask, record=True)
            out[name] = measure_segments(enc, run, plain)
    return out


def head_median(
    values: list[torch.Tensor] | tuple[torch.Tensor, ...], valid: torch.Tensor
) -> torch.Tensor:
    """The median per layer and head of ``values``, a list of ``(layers, heads, N, L)``
    tensors (one per prompt), over prompts and the columns where ``valid: (N, L)`` is
    True: ``(layers, heads)``."""
    if not isinstance(values, (list, tuple)) or not values:
        raise TypeError("values must be a non-empty list of (layers, heads, N, L) tensors")
    stacked = torch.stack([as_tensor(v, "values") for v in values], dim=2)  # (layers, H, P, N, L)
    if not isinstance(valid, torch.Tensor) or valid.dtype != torch.bool:
        raise TypeError(f"valid must be a bool tensor (N, L), got {type(valid).__name__}")
    if stacked.ndim != 5 or tuple(stacked.shape[-2:]) != tuple(valid.shape):
        raise ValueError(
            f"values must be (layers, heads, N, L) tensors with (N, L) = {tuple(valid.shape)}, "
            f"got {tuple(values[0].shape)}"
        )
    keep = valid.expand(stacked.shape[2:]).reshape(-1)
    flat = stacked.reshape(*stacked.shape[:2], -1)[..., keep]
    return flat.median(dim=-1).values
