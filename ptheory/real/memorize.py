"""Soft prompts, LoRA and one tuned layer on the frozen pretrained encoder.

Two experiments of the chapter ``real_soft_prompts``:

* **Memorization.** :func:`memorization_task` draws ``N`` short random token sequences
  ``[CLS] w_1 ... w_L [SEP]`` and random targets; every method is read out through the
  same fixed linear map of the final ``[CLS]`` state, so only the tuned parameters
  differ. :func:`tune_soft_prompt` (a soft prompt), :func:`tune_lora` (``peft``'s LoRA on the
  attention query and value of every layer) and :func:`tune_layer` (every weight of one
  layer) run the same Adam for the same number of steps and report the loss at each step.
* **The ray dataset in the first layer.** :func:`ray_dataset` builds Wang et al.'s
  two-example dataset (the ``unmemorizable_dataset`` chapter) in the geometry of one head
  of the real model's first layer: two inputs ``[CLS, w_i, SEP]`` share the query
  ``[CLS]``, and the output that head ``h`` should give at ``[CLS]`` is moved off
  ``b_i`` so that the rays of the segment lemma never meet. :func:`level_output` runs
  three nested models with a prompt: ``"head"``, the one-head sub-model for which the
  segment lemma (and the ray bound) is exact; ``"layer"``, the whole first layer as it is
  (12 heads, LayerNorm, feed-forward); ``"model"``, all six layers.

Where the prompt goes. A prompt ``P: (L_p, d)`` is a block of ``L_p`` free vectors
inserted among the **first layer's inputs** (after the embedding LayerNorm), right after
``[CLS]``; the input tokens keep the position embeddings they have without a prompt
(positions ``0 .. T-1``), and the prompt gets none (a free vector would absorb it).
BERT's attention has no mask here and is permutation-equivariant once the position
embeddings are added, so the block's place in the sequence does not matter: this is
exactly the book's ``[P, X]``, with ``X`` the frozen input columns.

Layouts follow ``transformers``: states are ``(N, T, d)``, one row per token (the book's
other parts use columns).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import torch

from .._validate import as_tensor, check_finite, check_int, check_real
from ..model import Attention, FeedForward, Transformer
from .loader import Encoder

__all__ = [
    "LEVELS",
    "METHODS",
    "MemorizationTask",
    "RayData",
    "TuneResult",
    "choose_lr",
    "compare_methods",
    "fit_prompts",
    "head_output",
    "input_states",
    "level_output",
    "level_targets",
    "memorization_task",
    "no_prompt_loss",
    "prompt_dataset",
    "prompted_states",
    "ray_dataset",
    "ray_problem",
    "tune",
    "tune_layer",
    "tune_lora",
    "tune_prompts",
    "tune_soft_prompt",
    "word_embeddings",
]

LEVELS = ("head", "layer", "model")
"""The nested models of :func:`level_output`: one head of layer 1, layer 1, all layers."""


def _check_encoder(enc: object) -> Encoder:
    if not isinstance(enc, Encoder):
        raise TypeError(f"enc must be a ptheory.real.Encoder, got {type(enc).__name__}")
    return enc


def _special_ids(enc: Encoder) -> tuple[int, int, int]:
    """``[CLS]`` and ``[SEP]`` ids and the first id of an ordinary word."""
    if enc.tokenizer is not None:
        cls, sep = enc.tokenizer.cls_token_id, enc.tokenizer.sep_token_id
        return int(cls), int(sep), 1000  # ids below 1000: [PAD], [unused..], specials
    return 1, 2, 3


def _device(enc: Encoder) -> torch.device:
    return next(enc.model.parameters()).device


def input_states(enc: Encoder, ids: torch.Tensor) -> torch.Tensor:
    """The first layer's inputs ``(N, T, d)`` for token ids ``(N, T)``: word, position and
    type embeddings, after the embedding LayerNorm (frozen, no gradient)."""
    enc = _check_encoder(enc)
    if not isinstance(ids, torch.Tensor) or ids.dtype != torch.long or ids.dim() != 2:
        raise TypeError(f"ids must be a (N, T) tensor of token ids (int64), got {ids!r:.60}")
    if ids.numel() == 0 or int(ids.min()) < 0 or int(ids.max()) >= enc.vocab_size:
        raise ValueError(f"ids must be non-empty token ids in [0, {enc.vocab_size})")
    with torch.no_grad():
        return enc.model.embeddings(input_ids=ids.to(_device(enc)))


def word_embeddings(enc: Encoder, count: int, seed: int = 0) -> torch.Tensor:
    """``(count, d)`` first-layer vectors of random ordinary words without a position
    (``LayerNorm(word + type)``): the starting point of a soft prompt."""
    enc = _check_encoder(enc)
    count = check_int(count, "count", minimum=1)
    seed = check_int(seed, "seed", minimum=0)
    _, _, first = _special_ids(enc)
    gen = torch.Generator().manual_seed(seed)
    ids = torch.randint(first, enc.vocab_size, (count,), generator=gen).to(_device(enc))
    emb = enc.model.embeddings
    with torch.no_grad():
        return emb.LayerNorm(emb.word_embeddings(ids) + emb.token_type_embeddings.weight[0])


def _check_prompt(enc: Encoder, P: object) -> torch.Tensor:
    P = check_finite(as_tensor(P, "P"), "P")
    if P.dim() != 2 or P.shape[1] != enc.d:
        raise ValueError(f"P must have shape (L_p, d) with d = {enc.d}, got {tuple(P.shape)}")
    return P


def _check_states(enc: Encoder, states: object, name: str = "states") -> torch.Tensor:
    states = check_finite(as_tensor(states, name), name)
    if states.dim() != 3 or states.shape[2] != enc.d or states.shape[1] < 1:
        raise ValueError(
            f"{name} must have shape (N, T, d) with d = {enc.d}, got {tuple(states.shape)}"
        )
    return states


def _insert(states: torch.Tensor, block: torch.Tensor) -> torch.Tensor:
    """``[CLS], block_i, rest`` for every example: ``block: (N, L_p, d)``."""
    return torch.cat([states[:, :1], block.to(states.dtype), states[:, 1:]], dim=1)


def _with_prompt(states: torch.Tensor, P: torch.Tensor | None) -> torch.Tensor:
    """``[CLS], P, rest``: the prompt block right after ``[CLS]``."""
    if P is None or P.shape[0] == 0:
        return states
    return _insert(states, P[None].expand(states.shape[0], -1, -1))


def _encode(blocks: Any, h: torch.Tensor) -> torch.Tensor:
    """Run the layers ``blocks`` on ``h: (N, T, d)``."""
    for block in blocks:
        h = _run(block, h)
    return h


def _without_prompt(hidden: torch.Tensor, P: torch.Tensor | None) -> torch.Tensor:
    k = 0 if P is None else P.shape[0]
    return torch.cat([hidden[:, :1], hidden[:, 1 + k :]], dim=1)


def _run(block: torch.nn.Module, h: torch.Tensor) -> torch.Tensor:
    """One ``transformers`` layer (it returns a tuple in 4.57; a tensor in later versions)."""
    out = block(h)
    return out[0] if isinstance(out, tuple) else out


def prompted_states(
    enc: Encoder,
    states: torch.Tensor,
    P: torch.Tensor | None = None,
    *,
    layers: int | None = None,
    encoder: torch.nn.Module | None = None,
) -> torch.Tensor:
    """The input tokens' states ``(N, T, d)`` after ``layers`` layers (default: all) of the
    frozen model, with the prompt ``P: (L_p, d)`` among the first layer's inputs (right
    after ``[CLS]``; ``None``: no prompt). ``states: (N, T, d)`` from
    :func:`input_states`. ``encoder`` replaces ``enc.model.encoder`` (a LoRA copy)."""
    enc = _check_encoder(enc)
    states = _check_states(enc, states)
    if P is not None:
        P = _check_prompt(enc, P)
    layers = enc.layers if layers is None else check_int(layers, "layers", minimum=1)
    if layers > enc.layers:
        raise ValueError(f"layers must be at most {enc.layers}, got {layers}")
    blocks = (encoder if encoder is not None else enc.model.encoder).layer[:layers]
    return _without_prompt(_encode(blocks, _with_prompt(states, P)), P)


# ------------------------------------------------------------------ memorization
@dataclass(frozen=True)
class MemorizationTask:
    """``N`` random token sequences with random targets, read out at ``[CLS]``.

    Attributes:
        ids: ``(N, T)`` token ids ``[CLS] w_1 .. w_L [SEP]``, ``T = L + 2``.
        states: the first layer's inputs ``(N, T, d)`` (cached: frozen).
        readout: the fixed readout ``R: (k, d)``; the output of a model is
            ``R h_CLS`` with ``h_CLS`` the final ``[CLS]`` state.
        frozen: the untuned model's outputs ``(N, k)``.
        targets: ``(N, k)``, ``frozen + scale * z`` with ``z`` standard normal.
        seed: the seed that drew the task.
    """

    ids: torch.Tensor
    states: torch.Tensor
    readout: torch.Tensor
    frozen: torch.Tensor
    targets: torch.Tensor
    seed: int

    @property
    def n(self) -> int:
        """The number of sequences ``N``."""
        return int(self.ids.shape[0])

    def relative_loss(self, outputs: torch.Tensor) -> torch.Tensor:
        """``sum_i ||outputs_i - y_i||^2 / sum_i ||frozen_i - y_i||^2``: 1 for the
        untuned model, 0 for a perfect fit. ``outputs: (N, k)``."""
        outputs = as_tensor(outputs, "outputs")
        if outputs.shape != self.targets.shape:
            raise ValueError(
                f"outputs must have shape {tuple(self.targets.shape)}, got {tuple(outputs.shape)}"
            )
        y = self.targets.to(outputs.dtype)
        return (outputs - y).pow(2).sum() / (self.frozen.to(outputs.dtype) - y).pow(2).sum()


def memorization_task(
    enc: Encoder, n: int, seed: int = 0, *, length: int = 4, outputs: int = 8
) -> MemorizationTask:
    """Draw ``n`` sequences of ``length`` random ordinary words, a readout ``R: (outputs,
    d)`` with entries ``N(0, 1/d)``, and targets ``y_i = f_i + s z_i`` where ``f_i`` is
    the untuned output, ``z_i`` standard normal and ``s`` the standard deviation of the
    untuned outputs' entries (so the targets are as spread as the outputs)."""
    enc = _check_encoder(enc)
    n = check_int(n, "n", minimum=1)
    seed = check_int(seed, "seed", minimum=0)
    length = check_int(length, "length", minimum=1)
    outputs = check_int(outputs, "outputs", minimum=1)
    cls, sep, first = _special_ids(enc)
    gen = torch.Generator().manual_seed(seed)
    words = torch.randint(first, enc.vocab_size, (n, length), generator=gen)
    ids = torch.cat([torch.full((n, 1), cls), words, torch.full((n, 1), sep)], dim=1)
    readout = torch.randn(outputs, enc.d, generator=gen) / math.sqrt(enc.d)
    z = torch.randn(n, outputs, generator=gen)
    states = input_states(enc, ids)
    readout = readout.to(states.device)
    with torch.no_grad():
        frozen = prompted_states(enc, states)[:, 0] @ readout.T
    scale = float(frozen.std()) if frozen.numel() > 1 else 1.0
    targets = frozen + scale * z.to(frozen.device)
    return MemorizationTask(ids, states, readout, frozen, targets, seed)


@dataclass(frozen=True)
class TuneResult:
    """One tuning run on a :class:`MemorizationTask`.

    Attributes:
        method: ``"prompt"``, ``"lora"`` or ``"layer"``.
        size: the prompt length, the LoRA rank, or the tuned layer's index (from 0).
        parameters: the number of trainable parameters.
        n: the task's number of sequences.
        seed: the task's seed (also the seed of the method's initialisation).
        curve: the relative loss before each of the ``steps`` updates and after the
            last, ``(steps + 1,)``.
    """

    method: str
    size: int
    parameters: int
    n: int
    seed: int
    curve: torch.Tensor

    @property
    def loss(self) -> float:
        """The relative loss after the last step."""
        return float(self.curve[-1])


def _check_task(task: object) -> MemorizationTask:
    if not isinstance(task, MemorizationTask):
        raise TypeError(f"task must be a MemorizationTask, got {type(task).__name__}")
    return task


def _adam(params: list[torch.Tensor], loss_fn: Any, steps: int, lr: float) -> torch.Tensor:
    """``steps`` Adam steps of rate ``lr`` on ``loss_fn()``; the loss before each step and
    after the last."""
    opt = torch.optim.Adam(params, lr=lr)
    curve = []
    for _ in range(steps):
        opt.zero_grad()
        loss = loss_fn()
        curve.append(float(loss.detach()))
        loss.backward()
        opt.step()
    with torch.no_grad():
        curve.append(float(loss_fn()))
    return torch.tensor(curve, dtype=torch.float64)


def _steps_lr(steps: object, lr: object) -> tuple[int, float]:
    return check_int(steps, "steps", minimum=0), check_real(
        lr, "lr", minimum=0.0, strict_minimum=True
    )


def tune_soft_prompt(
    enc: Encoder, task: MemorizationTask, prompt_length: int, *, steps: int = 20, lr: float = 0.1
) -> TuneResult:
    """Tune a soft prompt of ``prompt_length`` tokens (``prompt_length * d`` parameters),
    started at :func:`word_embeddings` (seed: the task's), by ``steps`` Adam steps."""
    return tune_prompts(enc, [task], prompt_length, steps=steps, lr=[lr])[0]


def tune_prompts(
    enc: Encoder,
    tasks: Sequence[MemorizationTask],
    prompt_length: int,
    *,
    steps: int = 20,
    lr: Sequence[float],
) -> list[TuneResult]:
    """:func:`tune_soft_prompt` for every task of ``tasks`` (all with the same sequence length),
    task ``t`` at rate ``lr[t]``, in one batch: one forward pass per step for all. The
    prompts are separate parameters and Adam updates each entry on its own, so every run
    follows the trajectory it would follow alone (up to rounding)."""
    enc = _check_encoder(enc)
    if not isinstance(tasks, Sequence) or not tasks:
        raise TypeError(f"tasks must be a non-empty list of MemorizationTask, got {tasks!r:.60}")
    tasks = [_check_task(t) for t in tasks]
    if len({t.ids.shape[1] for t in tasks}) != 1:
        raise ValueError("tasks must all have sequences of the same length")
    prompt_length = check_int(prompt_length, "prompt_length", minimum=1)
    steps = check_int(steps, "steps", minimum=0)
    if not isinstance(lr, Sequence) or len(lr) != len(tasks):
        raise TypeError(f"lr must be a list of {len(tasks)} rates, one per task")
    rates = [check_real(r, "lr", minimum=0.0, strict_minimum=True) for r in lr]
    prompts = [
        word_embeddings(enc, prompt_length, t.seed).clone().requires_grad_(True) for t in tasks
    ]
    states = torch.cat([t.states for t in tasks])
    cuts = torch.tensor([0] + [t.n for t in tasks]).cumsum(0).tolist()
    opt = torch.optim.Adam([{"params": [P], "lr": r} for P, r in zip(prompts, rates, strict=True)])

    def losses() -> torch.Tensor:
        block = torch.cat(
            [P[None].expand(t.n, -1, -1) for P, t in zip(prompts, tasks, strict=True)]
        )
        h = _encode(enc.model.encoder.layer, _insert(states, block))[:, 0]
        return torch.stack(
            [
                t.relative_loss(h[a:b] @ t.readout.T)
                for t, a, b in zip(tasks, cuts[:-1], cuts[1:], strict=True)
            ]
        )

    curves = []
    for _ in range(steps):
        opt.zero_grad()
        values = losses()
        curves.append(values.detach())
        values.sum().backward()
        opt.step()
    with torch.no_grad():
        curves.append(losses())
    curve = torch.stack(curves).double().cpu()  # (steps + 1, tasks)
    return [
        TuneResult("prompt", prompt_length, P.numel(), t.n, t.seed, curve[:, i])
        for i, (P, t) in enumerate(zip(prompts, tasks, strict=True))
    ]


def tune_lora(
    enc: Encoder,
    task: MemorizationTask,
    rank: int,
    *,
    steps: int = 20,
    lr: float = 0.01,
    first_only: bool = False,
) -> TuneResult:
    """Tune LoRA (``peft``; ``lora_alpha = 1``, so the update is ``B A / rank``; no
    dropout) on the query and value matrices of every layer (``first_only``: of the
    first layer only) of a copy of the model, by ``steps`` Adam steps:
    ``2 * rank * 2d`` parameters per layer. ``peft`` starts ``B = 0`` (the untuned model)
    and ``A`` at random (seed: the task's). The result's method is ``"lora"`` or
    ``"lora_first"``."""
    enc, task = _check_encoder(enc), _check_task(task)
    rank = check_int(rank, "rank", minimum=1)
    steps, lr = _steps_lr(steps, lr)
    if not isinstance(first_only, bool):
        raise TypeError(f"first_only must be a bool, got {type(first_only).__name__}")
    from peft import LoraConfig, get_peft_model

    config = LoraConfig(
        r=rank,
        lora_alpha=1,
        lora_dropout=0.0,
        target_modules=["query", "value"],
        layers_to_transform=[0] if first_only else None,
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(task.seed)
        tuned = get_peft_model(copy.deepcopy(enc.model), config)
    params = [p for p in tuned.parameters() if p.requires_grad]
    encoder = tuned.base_model.model.encoder

    def loss() -> torch.Tensor:
        h = prompted_states(enc, task.states, encoder=encoder)
        return task.relative_loss(h[:, 0] @ task.readout.T)

    curve = _adam(params, loss, steps, lr)
    count = sum(p.numel() for p in params)
    method = "lora_first" if first_only else "lora"
    return TuneResult(method, rank, count, task.n, task.seed, curve)


def tune_layer(
    enc: Encoder,
    task: MemorizationTask,
    layer: int | None = None,
    *,
    steps: int = 20,
    lr: float = 1e-4,
) -> TuneResult:
    """Tune every weight of one layer (default: the last) of a copy of it, by ``steps``
    Adam steps; the frozen states below it are computed once."""
    enc, task = _check_encoder(enc), _check_task(task)
    layer = enc.layers - 1 if layer is None else check_int(layer, "layer", minimum=0)
    if layer >= enc.layers:
        raise ValueError(f"layer must be below {enc.layers}, got {layer}")
    steps, lr = _steps_lr(steps, lr)
    with torch.no_grad():
        below = task.states
        for block in enc.model.encoder.layer[:layer]:
            below = _run(block, below)
    tuned = copy.deepcopy(enc.model.encoder.layer[layer])
    for p in tuned.parameters():
        p.requires_grad_(True)
    above = enc.model.encoder.layer[layer + 1 :]

    def loss() -> torch.Tensor:
        h = _run(tuned, below)
        for block in above:
            h = _run(block, h)
        return task.relative_loss(h[:, 0] @ task.readout.T)

    params = list(tuned.parameters())
    curve = _adam(params, loss, steps, lr)
    return TuneResult("layer", layer, sum(p.numel() for p in params), task.n, task.seed, curve)


# ------------------------------------------------------------ the ray dataset
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
    (:func:`head_output`) and ``g, h`` orthonormal, orthogonal to ``b_1 - b_2`` (random,
    from ``seed``), the outputs asked for are ``c_1 = b_1 + r (g + tilt h)`` and
    ``c_2 = b_2 + r (-g + tilt h)`` with ``r = radius * ||b_1 - b_2||``: the closed rays
    ``{c_i + s (c_i - b_i), s >= 0}`` never meet (as in ``ptheory.capacity.
    unmemorizable_dataset``). ``same_direction=True`` turns the second offset around
    (``+g``), the construction broken on purpose."""
    enc = _check_encoder(enc)
    seed = check_int(seed, "seed", minimum=0)
    head = _check_head(enc, head)
    radius = check_real(radius, "radius", minimum=0.0, strict_minimum=True)
    tilt = check_real(tilt, "tilt", minimum=0.0)
    if not isinstance(same_direction, bool):
        raise TypeError(f"same_direction must be a bool, got {type(same_direction).__name__}")
    ids = _pair_ids(enc, seed)
    states = input_states(enc, ids)
    with torch.no_grad():
        b = head_output(enc, states, head=head)
    u = b[0] - b[1]
    gen = torch.Generator().manual_seed(seed + 1)
    basis = [u / u.norm()]
    while len(basis) < 3:
        v = torch.randn(enc.d, generator=gen, dtype=torch.float64).to(b.device)
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

    opt = torch.optim.Adam([P], lr=lr)
    curves = []
    for _ in range(steps):
        opt.zero_grad()
        values = losses()
        curves.append(values.detach())
        values.sum().backward()
        opt.step()
    with torch.no_grad():
        curves.append(losses())
    return torch.stack(curves).double().cpu()


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


METHODS = ("prompt", "lora_first", "lora", "layer")
"""The methods of :func:`tune`: a soft prompt, LoRA on the first layer, LoRA on every
layer, one tuned layer."""


def tune(
    enc: Encoder,
    task: MemorizationTask,
    method: str,
    size: int | None,
    *,
    steps: int,
    lr: float,
) -> TuneResult:
    """Run one method: ``"prompt"`` (``size`` = prompt length), ``"lora_first"`` or
    ``"lora"`` (``size`` = rank; the first layer, or every layer) or ``"layer"``
    (``size`` = layer index, ``None``: the last)."""
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    if method == "prompt":
        return tune_soft_prompt(enc, task, size, steps=steps, lr=lr)  # type: ignore[arg-type]
    if method in ("lora", "lora_first"):
        first = method == "lora_first"
        return tune_lora(enc, task, size, steps=steps, lr=lr, first_only=first)  # type: ignore[arg-type]
    return tune_layer(enc, task, size, steps=steps, lr=lr)


def choose_lr(
    enc: Encoder,
    task: MemorizationTask,
    method: str,
    size: int | None,
    grid: Sequence[float],
    *,
    steps: int,
) -> float:
    """The rate of ``grid`` with the smallest final relative loss of ``method`` on
    ``task`` (ties: the first)."""
    if not isinstance(grid, Sequence) or isinstance(grid, str) or not grid:
        raise TypeError(f"grid must be a non-empty list of rates, got {grid!r:.60}")
    rates = [check_real(r, "grid", minimum=0.0, strict_minimum=True) for r in grid]
    if method == "prompt":  # one batch for every rate
        runs = tune_prompts(enc, [task] * len(rates), size, steps=steps, lr=rates)  # type: ignore[arg-type]
        losses = [r.loss for r in runs]
    else:
        losses = [tune(enc, task, method, size, steps=steps, lr=r).loss for r in rates]
    return rates[min(range(len(rates)), key=lambda i: (losses[i], i))]


def compare_methods(
    enc: Encoder,
    ns: Sequence[int],
    seeds: Sequence[int],
    runs: Sequence[tuple[str, int | None]],
    lrs: dict[str, float],
    *,
    steps: int,
    length: int = 4,
    outputs: int = 8,
) -> list[TuneResult]:
    """Every run ``(method, size)`` of ``runs`` on the task of every ``N`` in ``ns`` and
    every seed in ``seeds`` (one task per ``(N, seed)``, shared by all runs), each method
    at its rate ``lrs[method]``, all for ``steps`` Adam steps. Prompt runs of one length
    share their forward passes (:func:`tune_prompts`)."""
    ns = _ints(ns, "ns")
    seeds = _ints(seeds, "seeds", minimum=0)
    if not isinstance(runs, Sequence) or not runs:
        raise TypeError(f"runs must be a non-empty list of (method, size), got {runs!r:.60}")
    if not isinstance(lrs, dict):
        raise TypeError(f"lrs must be a dict of rates by method, got {type(lrs).__name__}")
    for method, _ in runs:
        if method not in lrs:
            raise ValueError(f"lrs must give a rate for {method!r}")
    tasks = [
        memorization_task(enc, n, seed, length=length, outputs=outputs)
        for n in ns
        for seed in seeds
    ]
    out = []
    for method, size in runs:
        if method == "prompt":  # one batch for every task
            rates = [lrs[method]] * len(tasks)
            out += tune_prompts(enc, tasks, size, steps=steps, lr=rates)  # type: ignore[arg-type]
        else:
            out += [tune(enc, t, method, size, steps=steps, lr=lrs[method]) for t in tasks]
    return out


def _ints(values: object, name: str, minimum: int = 1) -> list[int]:
    if not isinstance(values, Sequence) or isinstance(values, str) or not values:
        raise TypeError(f"{name} must be a non-empty list of ints, got {values!r:.60}")
    return [check_int(v, name, minimum=minimum) for v in values]
