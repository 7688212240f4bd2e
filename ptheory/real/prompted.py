"""One prompted encoder: the frozen BERT encoder run with a soft prompt or a prefix.

Every chapter of the Real models part runs the model through :func:`encode`, which
computes BERT's layers itself from the model's modules (so a LoRA copy or a tuned layer
can stand in for a layer, a head's attention can be replaced, and every intermediate
state can be recorded) and places the prompt in one of three ways, the ``placement``:

``"input"`` (the book's placement)
    ``P: (d, L_p)`` is prepended to what the **first layer reads**, after the embedding
    layer and its LayerNorm; the prompt gets no position, and the input keeps the
    positions ``0 .. L - 1`` it has without a prompt. The first layer then reads exactly
    the book's ``[P, X]``, with ``X`` the unprompted first-layer input, and the segment
    lemma holds in the first layer against the run without a prompt.
``"embedding"`` (``peft``'s ``PromptTuningConfig``)
    ``P: (d, L_p)`` is prepended to the **word embeddings**; every column then gets its
    position and token-type embedding and passes through the embedding LayerNorm, and
    the input's positions shift to ``L_p .. L_p + L - 1``. Every column a layer reads is
    the output of a LayerNorm, which caps what a prompt can do to the queries and keys.
``"prefix"`` (``peft``'s ``PrefixTuningConfig`` without a projection; P-tuning v2)
    no columns are added; instead a :class:`Prefix` prepends ``L_p`` free keys and
    values to **every head of every layer**. ``peft`` shifts the input's positions by
    ``L_p`` (``position_offset=L_p``); the book keeps them (the default ``0``), so that
    the first layer's keys and values of the input are the unprompted ones.

The unprompted run is ``encode(enc, ids)``. :func:`encode` with ``placement="embedding"``
reproduces ``peft``'s prompt tuning, and ``placement="prefix"`` with
``position_offset=L_p`` reproduces ``peft``'s prefix tuning, on the installed library.

Layouts: a soft prompt has its tokens as columns, ``(d, L_p)`` (or ``(N, d, L_p)``, one
prompt per sequence); the encoder's states follow ``transformers``, ``(N, n, d)``, with
the prompt's columns first. Layers and heads are indexed from 0 in code (the text counts
them from 1).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from .._validate import as_tensor, check_finite, check_int
from .loader import Encoder, check_encoder

__all__ = [
    "PLACEMENTS",
    "Encoded",
    "Prefix",
    "encode",
    "random_prompt",
    "word_ids",
    "word_prefix",
    "word_prompt",
    "word_tokens",
]

PLACEMENTS = ("input", "embedding", "prefix")
"""Where a prompt enters the encoder (see the module docstring)."""

HeadFn = Callable[[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]
"""A replacement for one head's attention: ``(q, k, v, mask) -> context``, with
``q: (N, n, m)``, ``k, v: (N, n_k, m)``, the additive ``mask: (N, n, n_k)``, returning
``(N, n, m)``."""


# ------------------------------------------------------------------ prompts and words
@dataclass(frozen=True)
class Prefix:
    """A prefix: ``L_p`` keys and values for every head of every layer.

    Attributes:
        keys: ``(layers, heads, m, L_p)`` (or ``(N, layers, heads, m, L_p)``, one prefix
            per sequence), the keys as the heads' score products see them (a key bias is
            not added again), tokens as columns.
        values: the values, same shape.
    """

    keys: torch.Tensor
    values: torch.Tensor

    @property
    def length(self) -> int:
        """The number of prefix tokens ``L_p``."""
        return int(self.keys.shape[-1])

    @property
    def parameters(self) -> int:
        """The number of free numbers of one prefix (``2 * layers * d * L_p``)."""
        per = self.keys[0] if self.keys.dim() == 5 else self.keys
        return 2 * per.numel()


def word_tokens(enc: Encoder) -> torch.Tensor:
    """The ids of whole words in ``enc``'s vocabulary: tokens of two or more ASCII letters
    (no word pieces, punctuation, digits or special tokens). For an encoder without a
    tokenizer (:func:`~ptheory.real.tiny_encoder`), every id from 3 on."""
    enc = check_encoder(enc)
    if enc.tokenizer is None:
        return torch.arange(3, enc.vocab_size)
    vocab = enc.tokenizer.convert_ids_to_tokens(list(range(enc.vocab_size)))
    return torch.tensor([i for i, t in enumerate(vocab) if t.isascii() and t.isalpha()
                         and len(t) >= 2])  # fmt: skip


def _ends(enc: Encoder) -> tuple[int, int]:
    if enc.tokenizer is None:
        return 1, 2
    return int(enc.tokenizer.cls_token_id), int(enc.tokenizer.sep_token_id)


def word_ids(enc: Encoder, N: int, L: int, *, seed: int = 0) -> torch.Tensor:
    """``N`` sequences ``[CLS] w_1 .. w_{L-2} [SEP]`` of ``L`` token ids, the words drawn
    uniformly (from ``seed``) from :func:`word_tokens`; no padding. ``(N, L)``."""
    enc = check_encoder(enc)
    N = check_int(N, "N", minimum=1)
    L = check_int(L, "L", minimum=3)
    seed = check_int(seed, "seed", minimum=0)
    words = word_tokens(enc)
    gen = torch.Generator().manual_seed(seed)
    body = words[torch.randint(len(words), (N, L - 2), generator=gen)]
    cls, sep = _ends(enc)
    ends = torch.ones(N, 1, dtype=torch.long)
    return torch.cat([cls * ends, body, sep * ends], dim=1)


def _device(enc: Encoder) -> torch.device:
    return next(enc.model.parameters()).device


def _dtype(enc: Encoder) -> torch.dtype:
    return next(enc.model.parameters()).dtype


def _prompt_words(enc: Encoder, length: int, seed: int) -> torch.Tensor:
    length = check_int(length, "length", minimum=1)
    seed = check_int(seed, "seed", minimum=0)
    words = word_tokens(enc)
    gen = torch.Generator().manual_seed(seed)
    return words[torch.randint(len(words), (length,), generator=gen)].to(_device(enc))


def word_prompt(
    enc: Encoder, length: int, *, seed: int = 0, placement: str = "input"
) -> torch.Tensor:
    """A soft prompt ``(d, L_p)`` made of ``length`` random whole words (from ``seed``),
    where they would enter at ``placement``: their word embeddings (``"embedding"``), or
    what the first layer reads for them at positions ``0 .. L_p - 1`` (``"input"``: word,
    position and token-type embeddings after the embedding LayerNorm). The two placements'
    prompts of one seed give the first layer the same prompt columns."""
    enc = check_encoder(enc)
    placement = _check_placement(placement)
    if placement == "prefix":
        raise ValueError("placement must be 'input' or 'embedding' for a soft prompt; "
                         "use word_prefix for a prefix")  # fmt: skip
    ids = _prompt_words(enc, length, seed)
    emb = enc.model.embeddings
    with torch.no_grad():
        if placement == "embedding":
            return emb.word_embeddings(ids).T.contiguous()
        return emb(input_ids=ids[None])[0].T.contiguous()


def random_prompt(
    enc: Encoder, length: int, *, seed: int = 0, placement: str = "input"
) -> torch.Tensor:
    """Gaussian columns ``(d, L_p)`` rescaled to the norms of :func:`word_prompt`'s columns
    (same ``seed`` and ``placement``): words' sizes, random directions."""
    words = word_prompt(enc, length, seed=seed, placement=placement)
    gen = torch.Generator().manual_seed(check_int(seed, "seed", minimum=0) + 10_000)
    noise = torch.randn(words.shape, generator=gen, dtype=torch.float64).to(words)
    scale = torch.linalg.vector_norm(words, dim=0) / torch.linalg.vector_norm(noise, dim=0)
    return noise * scale


def word_prefix(enc: Encoder, length: int, *, seed: int = 0) -> Prefix:
    """A prefix made of ``length`` random whole words (from ``seed``): at every layer, the
    keys and values the model computes for those words read alone (positions
    ``0 .. L_p - 1``, no sentence). As a start for prefix tuning it is a prompt of words
    whose states never read the sentence."""
    enc = check_encoder(enc)
    ids = _prompt_words(enc, length, seed)[None]
    with torch.no_grad():
        run = encode(enc, ids, record=True)
    keys = torch.stack([k[0] for k in run.keys]).transpose(-1, -2)  # (layers, H, m, L_p)
    values = torch.stack([v[0] for v in run.values]).transpose(-1, -2)
    return Prefix(keys.contiguous(), values.contiguous())


# ------------------------------------------------------------------ the forward pass
@dataclass(frozen=True)
class Encoded:
    """One forward pass of :func:`encode`.

    Attributes:
        hidden: the last layer run's states ``(N, n, d)``, the prompt's ``L_p`` columns
            first (none for a prefix).
        prompt_length: the number of prompt columns in ``hidden`` (0 for a prefix or no
            prompt).
        prefix_length: the number of prefix keys every head reads first (0 for a soft
            prompt or no prompt).
        valid: ``(N, L)``, True on the input's tokens, False on padding.
        mask: the additive attention mask ``(N, n, n_k)`` every layer used (0 where a key
            is visible to a query, the dtype's most negative number where not; ``n_k``
            counts a prefix's keys first).
        inputs, queries, keys, values, probs, context, attention: with ``record=True``,
            per layer run: the layer's input ``(N, n, d)`` (``inputs`` has one more entry,
            the last output); the heads' queries ``(N, H, n, m)``, keys and values
            ``(N, H, n_k, m)`` (a prefix's first), attention probabilities
            ``(N, H, n, n_k)``; the heads' outputs before the output matrix, concatenated
            (BERT's context vectors) ``(N, n, d)``; the attention sublayer's output after
            its LayerNorm ``(N, n, d)``. Empty tuples otherwise.
    """

    hidden: torch.Tensor
    prompt_length: int
    prefix_length: int
    valid: torch.Tensor
    mask: torch.Tensor
    inputs: tuple[torch.Tensor, ...] = ()
    queries: tuple[torch.Tensor, ...] = ()
    keys: tuple[torch.Tensor, ...] = ()
    values: tuple[torch.Tensor, ...] = ()
    probs: tuple[torch.Tensor, ...] = ()
    context: tuple[torch.Tensor, ...] = ()
    attention: tuple[torch.Tensor, ...] = ()

    @property
    def outputs(self) -> torch.Tensor:
        """The input's columns of :attr:`hidden`, ``(N, L, d)``: the book's ``tau_P(X)``."""
        return self.hidden[:, self.prompt_length :]


def _check_placement(placement: object) -> str:
    if placement not in PLACEMENTS:
        raise ValueError(f"placement must be one of {PLACEMENTS}, got {placement!r}")
    return str(placement)


def _check_ids(enc: Encoder, ids: object) -> torch.Tensor:
    if not isinstance(ids, torch.Tensor) or ids.dtype not in (torch.int64, torch.int32):
        raise TypeError(f"ids must be an integer tensor (N, L) of token ids, got "
                        f"{type(ids).__name__}")  # fmt: skip
    if ids.dim() != 2 or ids.shape[0] < 1 or ids.shape[1] < 1:
        raise ValueError(f"ids must have shape (N, L) with N, L >= 1, got {tuple(ids.shape)}")
    if int(ids.min()) < 0 or int(ids.max()) >= enc.vocab_size:
        raise ValueError(f"ids must lie in [0, {enc.vocab_size}), the encoder's vocabulary")
    return ids.long().to(_device(enc))


def _check_mask(mask: object, ids: torch.Tensor) -> torch.Tensor:
    if mask is None:
        return torch.ones_like(ids)
    if not isinstance(mask, torch.Tensor):
        raise TypeError(f"mask must be a tensor (N, L) of 0 and 1, got {type(mask).__name__}")
    if mask.shape != ids.shape:
        raise ValueError(f"mask must have the shape of ids {tuple(ids.shape)}, got "
                         f"{tuple(mask.shape)}")  # fmt: skip
    if not bool(((mask == 0) | (mask == 1)).all()) or not bool((mask[:, 0] == 1).all()):
        raise ValueError("mask must hold 0 and 1 only, with 1 on each sequence's first token")
    return mask.long().to(ids.device)


def _check_soft(enc: Encoder, P: object, N: int) -> torch.Tensor:
    P = check_finite(as_tensor(P, "prompt", dtype=_dtype(enc), device=_device(enc)), "prompt")
    if P.dim() == 2:
        P = P[None].expand(N, -1, -1)
    if P.dim() != 3 or P.shape[1] != enc.d or P.shape[2] < 1 or P.shape[0] != N:
        raise ValueError(f"prompt must have shape (d, L_p) or (N, d, L_p) with d = {enc.d} "
                         f"and N = {N}, got {tuple(P.shape)}")  # fmt: skip
    return P


def _check_prefix(enc: Encoder, prefix: Prefix, N: int) -> tuple[torch.Tensor, torch.Tensor]:
    out = []
    for name in ("keys", "values"):
        t = getattr(prefix, name)
        t = check_finite(as_tensor(t, f"prompt.{name}", dtype=_dtype(enc), device=_device(enc)),
                         f"prompt.{name}")  # fmt: skip
        if t.dim() == 4:
            t = t[None].expand(N, *t.shape)
        shape = (N, enc.layers, enc.heads, enc.head_size)
        if t.dim() != 5 or tuple(t.shape[:4]) != shape or t.shape[4] < 1:
            raise ValueError(f"prompt.{name} must have shape (layers, heads, m, L_p) = "
                             f"{shape[1:]} + (L_p,), or with N = {N} first, got "
                             f"{tuple(t.shape)}")  # fmt: skip
        out.append(t.transpose(-1, -2))  # (N, layers, H, L_p, m): rows
    if out[0].shape != out[1].shape:
        raise ValueError("prompt.keys and prompt.values must have the same shape")
    return out[0], out[1]


def encode(
    enc: Encoder,
    ids: torch.Tensor,
    prompt: torch.Tensor | Prefix | None = None,
    *,
    placement: str = "input",
    mask: torch.Tensor | None = None,
    position_offset: int | None = None,
    prompt_reads_input: bool = True,
    layers: int | None = None,
    blocks: Sequence[torch.nn.Module] | None = None,
    heads: Mapping[tuple[int, int], HeadFn] | None = None,
    cls_offsets: torch.Tensor | None = None,
    record: bool = False,
) -> Encoded:
    """Run the frozen encoder on token ids ``ids: (N, L)`` with ``prompt`` at ``placement``.

    ``prompt``: ``None`` (the unprompted run), a soft prompt ``(d, L_p)`` or ``(N, d, L_p)``
    (placements ``"input"`` and ``"embedding"``), or a :class:`Prefix` (``"prefix"``).
    Differentiable in the prompt. Options:

    - ``mask``: ``(N, L)``, 1 on tokens and 0 on padding (default: no padding);
    - ``position_offset``: the input's first position (default ``L_p`` for
      ``"embedding"``, as ``peft`` does, and 0 otherwise);
    - ``prompt_reads_input=False``: the prompt's columns do not attend to the input's;
    - ``layers``: run only the first ``layers`` layers; ``blocks``: modules to run in
      place of the model's layers (a LoRA copy, a tuned layer);
    - ``heads``: ``{(layer, head): fn}`` replaces those heads' attention (see
      :data:`HeadFn`);
    - ``cls_offsets``: ``(N, d)`` added to the first layer's attention output (after its
      output matrix, before the residual and LayerNorm) at the input's first column
      (``[CLS]``);
    - ``record``: keep every layer's states (see :class:`Encoded`).
    """
    enc = check_encoder(enc)
    placement = _check_placement(placement)
    ids = _check_ids(enc, ids)
    mask = _check_mask(mask, ids)
    N, L = ids.shape
    dtype, device = _dtype(enc), _device(enc)
    soft = prefix_kv = None
    if prompt is not None:
        if isinstance(prompt, Prefix):
            if placement != "prefix":
                raise ValueError("prompt is a Prefix: placement must be 'prefix'")
            prefix_kv = _check_prefix(enc, prompt, N)
        else:
            if placement == "prefix":
                raise TypeError("placement 'prefix' needs prompt to be a Prefix")
            soft = _check_soft(enc, prompt, N)
    L_p = 0 if soft is None else soft.shape[2]
    L_k = 0 if prefix_kv is None else prefix_kv[0].shape[3]
    default = L_p if placement == "embedding" else 0
    offset = default if position_offset is None else check_int(
        position_offset, "position_offset", minimum=0)  # fmt: skip
    limit = int(enc.model.config.max_position_embeddings)
    if offset + L > limit:
        raise ValueError(f"position_offset must leave room for the {L} tokens below the "
                         f"model's {limit} positions, got {offset}")  # fmt: skip
    if not isinstance(prompt_reads_input, bool):
        raise TypeError(f"prompt_reads_input must be a bool, got "
                        f"{type(prompt_reads_input).__name__}")  # fmt: skip
    all_blocks = list(enc.model.encoder.layer) if blocks is None else list(blocks)
    if len(all_blocks) != enc.layers:
        raise ValueError(f"blocks must hold {enc.layers} layers, got {len(all_blocks)}")
    last = enc.layers if layers is None else check_int(layers, "layers", minimum=1,
                                                       maximum=enc.layers)  # fmt: skip
    plan = _check_heads(enc, heads)
    if cls_offsets is not None:
        cls_offsets = check_finite(as_tensor(cls_offsets, "cls_offsets", dtype=dtype,
                                             device=device), "cls_offsets")  # fmt: skip
        if tuple(cls_offsets.shape) != (N, enc.d):
            raise ValueError(f"cls_offsets must have shape (N, d) = ({N}, {enc.d}), got "
                             f"{tuple(cls_offsets.shape)}")  # fmt: skip
    if not isinstance(record, bool):
        raise TypeError(f"record must be a bool, got {type(record).__name__}")

    emb = enc.model.embeddings
    positions = (torch.arange(L, device=device) + offset)[None].expand(N, L)
    if placement == "embedding" and soft is not None:
        words = emb.word_embeddings(ids)
        embeds = torch.cat([soft.transpose(1, 2).to(words.dtype), words], dim=1)
        pos = torch.cat([torch.arange(L_p, device=device)[None].expand(N, L_p), positions], 1)
        h = emb(inputs_embeds=embeds, position_ids=pos)
    else:
        h = emb(input_ids=ids, position_ids=positions)
        if soft is not None:
            h = torch.cat([soft.transpose(1, 2).to(h.dtype), h], dim=1)
    n = L_p + L
    visible = torch.cat([torch.ones(N, L_k + L_p, dtype=torch.long, device=device), mask], 1)
    visible = visible[:, None, :].expand(N, n, L_k + n).clone()  # (N, queries, keys)
    if not prompt_reads_input:
        visible[:, :L_p, L_k + L_p :] = 0
    additive = (1.0 - visible.to(h.dtype)) * torch.finfo(h.dtype).min
    rec: dict[str, list[torch.Tensor]] = {k: [] for k in
                                          ("inputs", "q", "k", "v", "p", "c", "a")}  # fmt: skip
    for i in range(last):
        if record:
            rec["inputs"].append(h)
        kv = None if prefix_kv is None else (prefix_kv[0][:, i], prefix_kv[1][:, i])
        offs = cls_offsets if (i == 0 and cls_offsets is not None) else None
        h = _layer(enc, all_blocks[i], h, additive, kv, plan.get(i, {}), offs, L_p,
                   rec if record else None)  # fmt: skip
    if record:
        rec["inputs"].append(h)
    return Encoded(
        hidden=h,
        prompt_length=L_p,
        prefix_length=L_k,
        valid=mask.bool(),
        mask=additive,
        inputs=tuple(rec["inputs"]),
        queries=tuple(rec["q"]),
        keys=tuple(rec["k"]),
        values=tuple(rec["v"]),
        probs=tuple(rec["p"]),
        context=tuple(rec["c"]),
        attention=tuple(rec["a"]),
    )


def _check_heads(enc: Encoder, heads: object) -> dict[int, dict[int, HeadFn]]:
    if heads is None:
        return {}
    if not isinstance(heads, Mapping):
        raise TypeError("heads must be a mapping {(layer, head): function}")
    plan: dict[int, dict[int, HeadFn]] = {}
    for key, fn in heads.items():
        if not (isinstance(key, tuple) and len(key) == 2):
            raise TypeError(f"heads keys must be (layer, head) pairs, got {key!r}")
        layer = check_int(key[0], "heads", minimum=0, maximum=enc.layers - 1)
        head = check_int(key[1], "heads", minimum=0, maximum=enc.heads - 1)
        if not callable(fn):
            raise TypeError(f"heads[{key}] must be a function (q, k, v, mask) -> context")
        plan.setdefault(layer, {})[head] = fn
    return plan


def _split(x: torch.Tensor, heads: int) -> torch.Tensor:
    """``(N, n, d) -> (N, heads, n, m)``."""
    N, n, d = x.shape
    return x.view(N, n, heads, d // heads).transpose(1, 2)


def _layer(
    enc: Encoder,
    block: Any,
    x: torch.Tensor,
    additive: torch.Tensor,
    kv: tuple[torch.Tensor, torch.Tensor] | None,
    override: dict[int, HeadFn],
    cls_offsets: torch.Tensor | None,
    cls_column: int,
    rec: dict[str, list[torch.Tensor]] | None,
) -> torch.Tensor:
    """One BERT layer (post-LayerNorm; eval mode, so no dropout) on ``x: (N, n, d)``."""
    sa = block.attention.self
    H = enc.heads
    q, k, v = (_split(f(x), H) for f in (sa.query, sa.key, sa.value))
    if kv is not None:
        k = torch.cat([kv[0].to(k.dtype), k], dim=2)
        v = torch.cat([kv[1].to(v.dtype), v], dim=2)
    scores = q @ k.transpose(-1, -2) / math.sqrt(enc.head_size) + additive[:, None]
    probs = torch.softmax(scores, dim=-1)
    ctx = probs @ v  # (N, H, n, m)
    if override:
        ctx = ctx.clone()
        for head, fn in override.items():
            out = fn(q[:, head], k[:, head], v[:, head], additive)
            ctx[:, head] = out.to(ctx.dtype)
    context = ctx.transpose(1, 2).reshape(x.shape)
    attn = block.attention.output.dense(context)
    if cls_offsets is not None:
        attn = attn.clone()
        attn[:, cls_column] = attn[:, cls_column] + cls_offsets
    u = block.attention.output.LayerNorm(attn + x)
    y = block.output.LayerNorm(block.output.dense(block.intermediate(u)) + u)
    if rec is not None:
        for name, t in (("q", q), ("k", k), ("v", v), ("p", probs), ("c", context), ("a", u)):
            rec[name].append(t)
    return y
