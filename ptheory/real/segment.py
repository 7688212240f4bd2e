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

from .._validate import as_tensor, check_finite, check_int
from ..segments import segment_fit
from .loader import Encoder

__all__ = [
    "PROMPT_KINDS",
    "SENTENCES",
    "STAGES",
    "Bending",
    "EncoderRun",
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
    "run_encoder",
    "tokenize_sentences",
]

PROMPT_KINDS = ("words", "random")
"""The soft prompts of the chapter: embedded vocabulary words, or random vectors of the
same column norms."""

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


def _check_encoder(enc: object) -> Encoder:
    if not isinstance(enc, Encoder):
        raise TypeError(f"enc must be a ptheory.real.Encoder, got {type(enc).__name__}")
    return enc


def _dtype(enc: Encoder) -> torch.dtype:
    return next(enc.model.parameters()).dtype


def _device(enc: Encoder) -> torch.device:
    return next(enc.model.parameters()).device


def tokenize_sentences(
    enc: Encoder, sentences: tuple[str, ...] | list[str] = SENTENCES
) -> tuple[torch.Tensor, torch.Tensor]:
    """Token ids ``(N, L)`` and attention mask ``(N, L)`` (1 for tokens, 0 for padding) of
    ``sentences``, padded to the longest."""
    enc = _check_encoder(enc)
    if isinstance(sentences, str) or not isinstance(sentences, (list, tuple)):
        raise TypeError(f"sentences must be a list or tuple of str, got {type(sentences).__name__}")
    if not sentences or not all(isinstance(s, str) and s for s in sentences):
        raise ValueError("sentences must hold at least one non-empty str")
    if enc.tokenizer is None:
        raise ValueError("enc has no tokenizer (tiny_encoder): pass token ids instead")
    out = enc.tokenizer(list(sentences), padding=True, return_tensors="pt")
    return out["input_ids"], out["attention_mask"]


def _check_ids(enc: Encoder, ids: object, mask: object) -> tuple[torch.Tensor, torch.Tensor]:
    if not isinstance(ids, torch.Tensor) or ids.dtype not in (torch.int64, torch.int32):
        raise TypeError(f"ids must be an integer tensor (N, L), got {type(ids).__name__}")
    if ids.ndim != 2 or ids.shape[1] == 0 or ids.shape[0] == 0:
        raise ValueError(f"ids must have shape (N, L) with N, L >= 1, got {tuple(ids.shape)}")
    if int(ids.min()) < 0 or int(ids.max()) >= enc.vocab_size:
        raise ValueError(f"ids must lie in [0, {enc.vocab_size}), the encoder's vocabulary")
    if not isinstance(mask, torch.Tensor):
        raise TypeError(f"mask must be a tensor (N, L) of 0 and 1, got {type(mask).__name__}")
    if mask.shape != ids.shape:
        raise ValueError(
            f"mask must have the shape of ids {tuple(ids.shape)}, got {tuple(mask.shape)}"
        )
    if not bool(((mask == 0) | (mask == 1)).all()) or not bool((mask[:, 0] == 1).all()):
        raise ValueError("mask must hold 0 and 1 only, with 1 on each sequence's first token")
    return ids, mask.to(torch.int64)


def make_prompt(enc: Encoder, kind: str, length: int, seed: int = 0) -> torch.Tensor:
    """A soft prompt ``P: (d, L_p)`` in the space the first layer reads.

    ``kind="words"``: ``length`` vocabulary tokens drawn with ``seed`` (whole words of
    letters when the encoder has a tokenizer, any token id otherwise), passed through the
    model's embedding layer at positions ``0, ..., L_p - 1`` (word, position and segment
    embeddings, LayerNorm): what the first layer would read for those words.
    ``kind="random"``: Gaussian columns, each rescaled to the norm of the corresponding
    column of the ``"words"`` prompt of the same seed (matched norms, random directions).
    """
    enc = _check_encoder(enc)
    if kind not in PROMPT_KINDS:
        raise ValueError(f"kind must be one of {PROMPT_KINDS}, got {kind!r}")
    length = check_int(length, "length", minimum=1)
    seed = check_int(seed, "seed", minimum=0)
    gen = torch.Generator().manual_seed(seed)
    pool = _word_ids(enc)
    ids = pool[torch.randint(len(pool), (length,), generator=gen)]
    model = enc.model
    with torch.no_grad():
        words = model.embeddings(input_ids=ids.unsqueeze(0).to(_device(enc)))[0].T  # (d, L_p)
    if kind == "words":
        return words
    noise = torch.randn(words.shape, generator=gen, dtype=torch.float64).to(words)
    scale = torch.linalg.vector_norm(words, dim=0) / torch.linalg.vector_norm(noise, dim=0)
    return noise * scale


def _word_ids(enc: Encoder) -> torch.Tensor:
    if enc.tokenizer is None:
        return torch.arange(enc.vocab_size)
    vocab = enc.tokenizer.get_vocab()
    ids = sorted(i for w, i in vocab.items() if w.isalpha() and w.isascii() and len(w) > 2)
    return torch.tensor(ids)


@dataclass(frozen=True)
class EncoderRun:
    """The states of one forward pass of the encoder's layers on ``[P, E(X)]``.

    Attributes:
        inputs: the layer inputs, ``layers + 1`` tensors ``(N, n, d)`` (the last is the
            encoder's output), ``n = L_p + L``.
        context: per layer, the model's concatenated head outputs before the output
            matrix (BERT's context vectors), ``(N, n, d)``.
        attention: per layer, the attention sublayer's output after the first LayerNorm,
            ``(N, n, d)``.
        probs: per layer, the model's attention probabilities ``(N, heads, n, n)``
            (queries along dim 2, keys along dim 3).
        mask: the additive attention mask ``(N, 1, n, n)`` the layers used (0 where a key
            is visible to a query, the dtype's most negative number where it is not).
        valid: ``(N, L)``, True on the input's tokens, False on padding.
        prompt_length: ``L_p`` (0 without a prompt).
    """

    inputs: tuple[torch.Tensor, ...]
    context: tuple[torch.Tensor, ...]
    attention: tuple[torch.Tensor, ...]
    probs: tuple[torch.Tensor, ...]
    mask: torch.Tensor
    valid: torch.Tensor
    prompt_length: int


def run_encoder(
    enc: Encoder,
    ids: torch.Tensor,
    mask: torch.Tensor,
    P: torch.Tensor | None = None,
    *,
    position_offset: int = 0,
    prompt_reads_input: bool = True,
) -> EncoderRun:
    """Run the encoder's layers on ``[P, E(X)]`` and record every layer's states.

    ``ids, mask: (N, L)`` (see :func:`tokenize_sentences`); ``P: (d, L_p)`` or ``None``
    (the unprompted run), shared by every sentence. Two switches change the setting, for
    the chapter's controls: ``position_offset=k`` embeds the sentence at positions
    ``k, ..., k + L - 1`` (``k = L_p`` is what prompt tuning that prepends to the word
    embeddings does), so that its layer-0 states differ from those of a run at offset 0;
    ``prompt_reads_input=False`` masks the input's keys from the prompt's queries, so
    that the prompt's states cannot depend on the sentence.
    """
    enc = _check_encoder(enc)
    ids, mask = _check_ids(enc, ids, mask)
    position_offset = check_int(position_offset, "position_offset", minimum=0)
    limit = int(enc.model.config.max_position_embeddings)
    if position_offset + ids.shape[1] > limit:
        raise ValueError(
            f"position_offset must leave room for the {ids.shape[1]} tokens below the model's "
            f"{limit} positions, got {position_offset}"
        )
    if not isinstance(prompt_reads_input, bool):
        raise TypeError(
            f"prompt_reads_input must be a bool, got {type(prompt_reads_input).__name__}"
        )
    dtype, device = _dtype(enc), _device(enc)
    N, L = ids.shape
    if P is None:
        P = torch.zeros(enc.d, 0, dtype=dtype, device=device)
    else:
        P = check_finite(as_tensor(P, "P", dtype=dtype, device=device), "P")
        if P.ndim != 2 or P.shape[0] != enc.d or P.shape[1] == 0:
            raise ValueError(
                f"P must have shape (d, L_p) = ({enc.d}, L_p >= 1), got {tuple(P.shape)}"
            )
    L_p = P.shape[1]
    model = enc.model
    ids, mask = ids.to(device), mask.to(device)
    positions = torch.arange(L, device=device) + position_offset
    keys = torch.cat([torch.ones(N, L_p, dtype=torch.int64, device=device), mask], dim=1)
    visible = keys[:, None, :].expand(N, L_p + L, L_p + L).clone()  # (N, queries, keys)
    if not prompt_reads_input:
        visible[:, :L_p, L_p:] = 0
    additive = (1.0 - visible[:, None].to(dtype)) * torch.finfo(dtype).min
    records: dict[str, list[torch.Tensor]] = {"context": [], "probs": [], "attention": []}

    def grab_self(_module, _args, output):
        records["context"].append(output[0])
        records["probs"].append(output[1])

    def grab_attention(_module, _args, output):
        records["attention"].append(output[0])

    handles = []
    for layer in model.encoder.layer:
        handles.append(layer.attention.self.register_forward_hook(grab_self))
        handles.append(layer.attention.register_forward_hook(grab_attention))
    try:
        with torch.no_grad():
            embedded = model.embeddings(input_ids=ids, position_ids=positions[None].expand(N, L))
            prefix = P.T.unsqueeze(0).expand(N, L_p, enc.d)
            out = model.encoder(
                torch.cat([prefix, embedded], dim=1),
                attention_mask=additive,
                output_hidden_states=True,
                output_attentions=True,
            )
    finally:
        for handle in handles:
            handle.remove()
    return EncoderRun(
        inputs=tuple(out.hidden_states),
        context=tuple(records["context"]),
        attention=tuple(records["attention"]),
        probs=tuple(records["probs"]),
        mask=additive,
        valid=mask.bool(),
        prompt_length=L_p,
    )


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


def _check_run(enc: Encoder, run: object, name: str = "run") -> EncoderRun:
    if not isinstance(run, EncoderRun):
        raise TypeError(
            f"{name} must be an EncoderRun (from run_encoder), got {type(run).__name__}"
        )
    if len(run.context) != enc.layers or run.inputs[0].shape[-1] != enc.d:
        raise ValueError(f"{name} was not made by this encoder (layers or width differ)")
    return run


def _check_layer(enc: Encoder, layer: object) -> int:
    layer = check_int(layer, "layer", minimum=0)
    if layer >= enc.layers:
        raise ValueError(f"layer must be below {enc.layers}, the number of layers, got {layer}")
    return layer


def head_outputs(enc: Encoder, run: EncoderRun, layer: int) -> torch.Tensor:
    """The model's head outputs ``o_h = W_O^h Att_h(x, Z)`` at ``layer`` of ``run`` for the
    input's columns as queries: each head's slice of BERT's context vector mapped by its
    block ``W_O^h`` of the output matrix, ``(N, heads, d, L)``. In a run without a prompt
    these are the unprompted outputs ``bbar_h``."""
    enc = _check_encoder(enc)
    run = _check_run(enc, run)
    layer = _check_layer(enc, layer)
    with torch.no_grad():
        context = _heads(run.context[layer], enc.heads)[:, :, run.prompt_length :]
        return _project(enc, layer, context)


def head_split(
    enc: Encoder,
    run: EncoderRun,
    layer: int,
    *,
    use_mask: bool = True,
    value_bias: bool = True,
) -> HeadSplit:
    """The segment lemma's pieces for every head of ``layer``, in ``run``'s own states.

    ``a_h``, ``b_h`` and ``lam_h`` are recomputed from the layer's query, key and value
    weights and biases, its score scale ``1/sqrt(head_size)`` and the run's attention
    mask; ``o_h`` is the model's. ``use_mask=False`` and ``value_bias=False`` recompute
    the parts without the mask or without the value bias: wrong answers, for controls.
    """
    enc = _check_encoder(enc)
    run = _check_run(enc, run)
    layer = _check_layer(enc, layer)
    for name, flag in (("use_mask", use_mask), ("value_bias", value_bias)):
        if not isinstance(flag, bool):
            raise TypeError(f"{name} must be a bool, got {type(flag).__name__}")
    L_p = run.prompt_length
    if L_p == 0:
        raise ValueError("run must have a prompt (prompt_length >= 1) to split its attention")
    attn = enc.model.encoder.layer[layer].attention.self
    x = run.inputs[layer]
    with torch.no_grad():
        q = _heads(attn.query(x[:, L_p:]), enc.heads)  # (N, H, L, s)
        k = _heads(attn.key(x), enc.heads)
        v = _heads(attn.value(x) - (0.0 if value_bias else attn.value.bias), enc.heads)
        scores = q @ k.transpose(-1, -2) / math.sqrt(enc.head_size)  # (N, H, L, n)
        if use_mask:
            scores = scores + run.mask[:, :, L_p:, :]
        total = torch.logsumexp(scores, dim=-1)
        prompt_scores, input_scores = scores[..., :L_p], scores[..., L_p:]
        a = torch.softmax(prompt_scores, dim=-1) @ v[:, :, :L_p]
        b = torch.softmax(input_scores, dim=-1) @ v[:, :, L_p:]
        return HeadSplit(
            output=head_outputs(enc, run, layer),
            prompt_part=_project(enc, layer, a),
            input_part=_project(enc, layer, b),
            weight=torch.exp(torch.logsumexp(prompt_scores, dim=-1) - total),
            input_weight=torch.exp(torch.logsumexp(input_scores, dim=-1) - total),
            model_weight=run.probs[layer][:, :, L_p:, :L_p].sum(dim=-1),
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
        prompt_spread: ``(layers + 1,)``, the largest ``||P^l_i - P^l_1|| / ||P^l_1||`` over
            sentences ``i`` and prompt columns: how much the prompt's own states at layer
            ``l`` depend on the sentence.
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


def measure_segments(enc: Encoder, prompted: EncoderRun, plain: EncoderRun) -> SegmentMeasurement:
    """Measure the segment lemma over every layer and head (see :class:`SegmentMeasurement`).

    ``prompted``: a run with a prompt; ``plain``: the run of the same sentences without
    one (``run_encoder(enc, ids, mask)``), whose head outputs are the ``bbar_h``.
    """
    enc = _check_encoder(enc)
    prompted = _check_run(enc, prompted, "prompted")
    plain = _check_run(enc, plain, "plain")
    L_p = prompted.prompt_length
    if L_p == 0:
        raise ValueError("prompted must have a prompt (prompt_length >= 1)")
    if plain.prompt_length != 0:
        raise ValueError("plain must be a run without a prompt (prompt_length 0)")
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
    L_p_states = [h[:, :L_p] for h in prompted.inputs]
    first = [p[:1] for p in L_p_states]
    spread = torch.stack(
        [
            (torch.linalg.vector_norm(p - f, dim=-1) / torch.linalg.vector_norm(f, dim=-1)).max()
            for p, f in zip(L_p_states, first, strict=True)
        ]
    )
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


def measure_bending(enc: Encoder, run: EncoderRun) -> Bending:
    """Measure, for every layer and head of ``run`` (a prompted run), how far the rest of
    the layer bends head ``h``'s segment (see :class:`Bending`).

    Head ``h``'s output is moved along its own segment, ``t a_h + (1 - t) b_h`` with
    ``t = 0, 1`` and the actual ``lam_h``, the other heads kept at their outputs; each
    variant is pushed through the residual, LayerNorm, feed-forward layer and LayerNorm.
    The residual stage is an affine map, so it keeps the point on its chord; the others
    need not.
    """
    enc = _check_encoder(enc)
    run = _check_run(enc, run)
    L_p = run.prompt_length
    if L_p == 0:
        raise ValueError("run must have a prompt (prompt_length >= 1)")
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
    *,
    kinds: tuple[str, ...] = PROMPT_KINDS,
    seeds: tuple[int, ...] = (0, 1, 2),
    length: int = 4,
) -> dict[tuple[str, int], SegmentMeasurement]:
    """:func:`measure_segments` for the prompt of each kind and seed (:func:`make_prompt`,
    ``length`` columns) on the sentences ``ids, mask``, against one unprompted run."""
    enc = _check_encoder(enc)
    if not isinstance(kinds, tuple) or not kinds or any(k not in PROMPT_KINDS for k in kinds):
        raise ValueError(f"kinds must be a non-empty tuple of {PROMPT_KINDS}, got {kinds!r}")
    if not isinstance(seeds, tuple) or not seeds:
        raise TypeError(f"seeds must be a non-empty tuple of ints, got {seeds!r}")
    seeds = tuple(check_int(s, "seeds", minimum=0) for s in seeds)
    plain = run_encoder(enc, ids, mask)
    out = {}
    for kind in kinds:
        for seed in seeds:
            P = make_prompt(enc, kind, length, seed)
            out[kind, seed] = measure_segments(enc, run_encoder(enc, ids, mask, P), plain)
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
