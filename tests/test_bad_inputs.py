"""Bad-input sweep: every public entry point names the argument it refuses.

Each case feeds one wrong shape, type or value and checks the exception type and that its
message starts with the argument's name (the convention of ``ptheory._validate``).
"""

from __future__ import annotations

import inspect
import pkgutil
import re
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest
import torch
from torch import nn

import ptheory
from ptheory import plotting
from ptheory.distance import Estimate, dp_distance, dp_norm_error, uniform_inputs
from ptheory.measure import loglog_slope
from ptheory.model import (
    Attention,
    FeedForward,
    Transformer,
    build_transformer,
    default_device,
    freeze,
    mixing_attention,
    prompt_forward,
    resolve_scale,
    torch_threads,
)
from ptheory.plotting import (
    axes_or_new,
    new_figure,
    plain_log_ticks,
    plot_segments,
    plot_weight_by_length,
    shared_legend,
    use_style,
)
from ptheory.segments import (
    check_prompt_identity,
    prompt_split,
    prompt_weight_by_length,
    segment_fit,
)
from ptheory.targets import (
    empirical_lipschitz,
    mean_pool_target,
    operator_norm_bound,
    random_relu_target,
    shift_target,
)

from badinput import Case, case_params, check_case

F64 = torch.float64
NAN = float("nan")
INF = float("inf")


def t(*shape: int, fill: float = 0.5) -> torch.Tensor:
    return torch.full(shape, fill, dtype=F64)


def nan_at(*shape: int) -> torch.Tensor:
    x = t(*shape)
    x.view(-1)[0] = NAN
    return x


def inf_at(*shape: int) -> torch.Tensor:
    x = t(*shape)
    x.view(-1)[-1] = INF
    return x


def model3() -> Transformer:
    return build_transformer(3, max_len=4, seed=0)


def attn3(**kw) -> Attention:
    return Attention(3, seed=0, **kw)


def ident(X):
    return X


def _one_panel():
    """A figure and one of its Axes (not a sequence of them)."""
    fig, axes = new_figure()
    return fig, axes[0]


def split2(heads: int = 1, d: int = 2):
    with torch.no_grad():
        return prompt_split(Attention(d, heads=heads, seed=0), t(d, 1), t(d, 2))


CASES: list[Case] = [
    # --------------------------------------------------------------- Attention
    Case("Attention", "d zero", lambda: Attention(0), ValueError, "d"),
    Case("Attention", "d negative", lambda: Attention(-2), ValueError, "d"),
    Case("Attention", "d bool", lambda: Attention(True), TypeError, "d"),
    Case("Attention", "d float", lambda: Attention(2.0), TypeError, "d"),
    Case("Attention", "head_size zero", lambda: Attention(3, 0), ValueError, "head_size"),
    Case("Attention", "heads zero", lambda: Attention(3, heads=0), ValueError, "heads"),
    Case("Attention", "heads bool", lambda: Attention(3, heads=True), TypeError, "heads"),
    Case("Attention", "scale string", lambda: Attention(3, scale="1/n"), ValueError, "scale"),
    Case("Attention", "scale zero", lambda: Attention(3, scale=0.0), ValueError, "scale"),
    Case("Attention", "scale negative", lambda: Attention(3, scale=-1.0), ValueError, "scale"),
    Case("Attention", "scale nan", lambda: Attention(3, scale=NAN), ValueError, "scale"),
    Case("Attention", "scale bool", lambda: Attention(3, scale=True), TypeError, "scale"),
    Case("Attention", "seed negative", lambda: Attention(3, seed=-1), ValueError, "seed"),
    Case("Attention", "seed float", lambda: Attention(3, seed=1.5), TypeError, "seed"),
    Case(
        "Attention",
        "from_weights W_Q list",
        lambda: Attention.from_weights([[1.0]], t(1, 1), t(1, 1), t(1, 1)),
        TypeError,
        "W_Q",
    ),
    Case(
        "Attention",
        "from_weights W_Q 1-d",
        lambda: Attention.from_weights(t(2), t(2), t(2), t(2)),
        ValueError,
        "W_Q",
    ),
    Case(
        "Attention",
        "from_weights W_K shape",
        lambda: Attention.from_weights(t(1, 2), t(2, 2), t(1, 2), t(2, 1)),
        ValueError,
        "W_K",
    ),
    Case(
        "Attention",
        "from_weights W_V nan",
        lambda: Attention.from_weights(t(1, 2), t(1, 2), nan_at(1, 2), t(2, 1)),
        ValueError,
        "W_V",
    ),
    Case(
        "Attention",
        "from_weights W_O shape",
        lambda: Attention.from_weights(t(1, 2), t(1, 2), t(1, 2), t(1, 2)),
        ValueError,
        "W_O",
    ),
    Case(
        "Attention",
        "from_weights scale",
        lambda: Attention.from_weights(t(1, 2), t(1, 2), t(1, 2), t(2, 1), scale="sqrt"),
        ValueError,
        "scale",
    ),
    Case("Attention", "forward Z rows", lambda: attn3()(t(2, 4)), ValueError, "Z"),
    Case("Attention", "forward Z list", lambda: attn3()([[0.5] * 3] * 3), TypeError, "Z"),
    Case("Attention", "forward Z 1-d", lambda: attn3()(t(3)), ValueError, "Z"),
    Case(
        "Attention",
        "forward Z complex",
        lambda: attn3()(torch.zeros(3, 2, dtype=torch.complex128)),
        TypeError,
        "Z",
    ),
    Case(
        "Attention",
        "attend keys empty",
        lambda: attn3().attend(t(3, 2), t(3, 0)),
        ValueError,
        "keys",
    ),
    Case(
        "Attention",
        "attend queries rows",
        lambda: attn3().attend(t(4, 2), t(3, 2)),
        ValueError,
        "queries",
    ),
    Case(
        "Attention",
        "attend keys string",
        lambda: attn3().attend(t(3, 2), "keys"),
        TypeError,
        "keys",
    ),
    # ------------------------------------------------------------- FeedForward
    Case("FeedForward", "d zero", lambda: FeedForward(0, 4), ValueError, "d"),
    Case("FeedForward", "hidden zero", lambda: FeedForward(3, 0), ValueError, "hidden"),
    Case("FeedForward", "hidden bool", lambda: FeedForward(3, True), TypeError, "hidden"),
    Case("FeedForward", "seed negative", lambda: FeedForward(3, 2, seed=-3), ValueError, "seed"),
    Case(
        "FeedForward",
        "from_weights W_1 1-d",
        lambda: FeedForward.from_weights(t(3), t(3), t(3, 3), t(3)),
        ValueError,
        "W_1",
    ),
    Case(
        "FeedForward",
        "from_weights b_1 shape",
        lambda: FeedForward.from_weights(t(4, 3), t(3), t(3, 4), t(3)),
        ValueError,
        "b_1",
    ),
    Case(
        "FeedForward",
        "from_weights W_2 shape",
        lambda: FeedForward.from_weights(t(4, 3), t(4), t(4, 3), t(3)),
        ValueError,
        "W_2",
    ),
    Case(
        "FeedForward",
        "from_weights b_2 inf",
        lambda: FeedForward.from_weights(t(4, 3), t(4), t(3, 4), inf_at(3)),
        ValueError,
        "b_2",
    ),
    Case(
        "FeedForward",
        "from_weights W_1 string",
        lambda: FeedForward.from_weights("W", t(4), t(3, 4), t(3)),
        TypeError,
        "W_1",
    ),
    Case("FeedForward", "forward Z rows", lambda: FeedForward(3, 4)(t(4, 2)), ValueError, "Z"),
    Case("FeedForward", "forward Z tuple", lambda: FeedForward(3, 4)((1, 2, 3)), TypeError, "Z"),
    # ------------------------------------------------------------- Transformer
    Case("Transformer", "layers empty", lambda: Transformer([]), ValueError, "layers"),
    Case(
        "Transformer", "layers not modules", lambda: Transformer([ident]), TypeError, r"layers\[0\]"
    ),
    Case(
        "Transformer",
        "layers mixed d",
        lambda: Transformer([FeedForward(2, 2), Attention(3)]),
        ValueError,
        "layers",
    ),
    Case(
        "Transformer",
        "positions rows",
        lambda: Transformer([FeedForward(3, 2)], positions=t(2, 5)),
        ValueError,
        "positions",
    ),
    Case(
        "Transformer",
        "positions 3-d",
        lambda: Transformer([FeedForward(3, 2)], positions=t(1, 3, 5)),
        ValueError,
        "positions",
    ),
    Case(
        "Transformer",
        "positions nan",
        lambda: Transformer([FeedForward(3, 2)], positions=nan_at(3, 5)),
        ValueError,
        "positions",
    ),
    Case(
        "Transformer",
        "positions list",
        lambda: Transformer([FeedForward(3, 2)], positions=[[0.0] * 5] * 3),
        TypeError,
        "positions",
    ),
    Case("Transformer", "forward Z too long", lambda: model3()(t(3, 5)), ValueError, "Z"),
    Case("Transformer", "forward Z rows", lambda: model3()(t(2, 3)), ValueError, "Z"),
    Case("Transformer", "forward Z string", lambda: model3()("Z"), TypeError, "Z"),
    # ------------------------------------------------------- build_transformer
    Case("build_transformer", "d zero", lambda: build_transformer(0), ValueError, "d"),
    Case("build_transformer", "d bool", lambda: build_transformer(True), TypeError, "d"),
    Case(
        "build_transformer",
        "blocks zero",
        lambda: build_transformer(2, blocks=0),
        ValueError,
        "blocks",
    ),
    Case(
        "build_transformer",
        "hidden zero",
        lambda: build_transformer(2, hidden=0),
        ValueError,
        "hidden",
    ),
    Case(
        "build_transformer",
        "head_size zero",
        lambda: build_transformer(2, head_size=0),
        ValueError,
        "head_size",
    ),
    Case(
        "build_transformer",
        "heads zero",
        lambda: build_transformer(2, heads=0),
        ValueError,
        "heads",
    ),
    Case(
        "build_transformer",
        "scale string",
        lambda: build_transformer(2, scale="1/L"),
        ValueError,
        "scale",
    ),
    Case(
        "build_transformer",
        "max_len zero",
        lambda: build_transformer(2, max_len=0),
        ValueError,
        "max_len",
    ),
    Case(
        "build_transformer",
        "max_len float",
        lambda: build_transformer(2, max_len=4.0),
        TypeError,
        "max_len",
    ),
    Case(
        "build_transformer",
        "position_scale negative",
        lambda: build_transformer(2, max_len=3, position_scale=-0.1),
        ValueError,
        "position_scale",
    ),
    Case(
        "build_transformer",
        "seed negative",
        lambda: build_transformer(2, seed=-1),
        ValueError,
        "seed",
    ),
    Case(
        "build_transformer", "seed None", lambda: build_transformer(2, seed=None), TypeError, "seed"
    ),
    # -------------------------------------------------------- mixing_attention
    Case("mixing_attention", "d zero", lambda: mixing_attention(0), ValueError, "d"),
    Case("mixing_attention", "d float", lambda: mixing_attention(2.5), TypeError, "d"),
    Case(
        "mixing_attention", "heads zero", lambda: mixing_attention(2, heads=0), ValueError, "heads"
    ),
    Case(
        "mixing_attention",
        "heads bool",
        lambda: mixing_attention(2, heads=False),
        TypeError,
        "heads",
    ),
    Case(
        "mixing_attention",
        "key_scale negative",
        lambda: mixing_attention(2, key_scale=-1.0),
        ValueError,
        "key_scale",
    ),
    Case(
        "mixing_attention",
        "key_scale inf",
        lambda: mixing_attention(2, key_scale=INF),
        ValueError,
        "key_scale",
    ),
    Case(
        "mixing_attention",
        "scale string",
        lambda: mixing_attention(2, scale="1/k"),
        ValueError,
        "scale",
    ),
    Case(
        "mixing_attention",
        "seed negative",
        lambda: mixing_attention(2, seed=-1),
        ValueError,
        "seed",
    ),
    Case(
        "mixing_attention", "seed None", lambda: mixing_attention(2, seed=None), TypeError, "seed"
    ),
    # ------------------------------------------------------------------ freeze
    Case("freeze", "not a module", lambda: freeze(ident), TypeError, "model"),
    Case("freeze", "tensor", lambda: freeze(t(2, 2)), TypeError, "model"),
    # ---------------------------------------------------------- prompt_forward
    Case(
        "prompt_forward",
        "model not callable",
        lambda: prompt_forward(3, t(3, 1), t(3, 2)),
        TypeError,
        "model",
    ),
    Case(
        "prompt_forward",
        "P rows != d",
        lambda: prompt_forward(model3(), t(2, 1), t(3, 2)),
        ValueError,
        "P",
    ),
    Case(
        "prompt_forward",
        "P rows != d, plain callable",
        lambda: prompt_forward(ident, t(4, 1), t(3, 2)),
        ValueError,
        "P",
    ),
    Case(
        "prompt_forward",
        "R prompts rows != d",
        lambda: prompt_forward(model3(), t(2, 4, 1), t(5, 3, 2)),
        ValueError,
        "P",
    ),
    Case(
        "prompt_forward", "P 1-d", lambda: prompt_forward(model3(), t(3), t(3, 2)), ValueError, "P"
    ),
    Case(
        "prompt_forward",
        "P 4-d",
        lambda: prompt_forward(model3(), t(1, 1, 3, 1), t(3, 2)),
        ValueError,
        "P",
    ),
    Case(
        "prompt_forward",
        "P nan",
        lambda: prompt_forward(model3(), nan_at(3, 1), t(3, 2)),
        ValueError,
        "P",
    ),
    Case(
        "prompt_forward",
        "P inf",
        lambda: prompt_forward(model3(), inf_at(3, 1), t(3, 2)),
        ValueError,
        "P",
    ),
    Case(
        "prompt_forward",
        "P list",
        lambda: prompt_forward(model3(), [[0.0]] * 3, t(3, 2)),
        TypeError,
        "P",
    ),
    Case(
        "prompt_forward",
        "X nan",
        lambda: prompt_forward(model3(), t(3, 1), nan_at(3, 2)),
        ValueError,
        "X",
    ),
    Case(
        "prompt_forward",
        "X inf",
        lambda: prompt_forward(model3(), t(3, 1), inf_at(2, 3, 2)),
        ValueError,
        "X",
    ),
    Case(
        "prompt_forward",
        "X rows != d",
        lambda: prompt_forward(model3(), t(3, 1), t(2, 2)),
        ValueError,
        "X",
    ),
    Case(
        "prompt_forward",
        "X 4-d",
        lambda: prompt_forward(model3(), t(3, 1), t(1, 1, 3, 2)),
        ValueError,
        "X",
    ),
    Case(
        "prompt_forward",
        "X no columns",
        lambda: prompt_forward(ident, t(3, 1), t(3, 0)),
        ValueError,
        "X",
    ),
    Case(
        "prompt_forward", "X string", lambda: prompt_forward(model3(), t(3, 1), "X"), TypeError, "X"
    ),
    Case(
        "prompt_forward",
        "X object array",
        lambda: prompt_forward(model3(), t(3, 1), np.array([["a"] * 2] * 3, dtype=object)),
        TypeError,
        "X",
    ),
    Case(
        "prompt_forward",
        "[P, X] longer than positions",
        lambda: prompt_forward(model3(), t(3, 3), t(3, 2)),
        ValueError,
        "Z",
    ),
    # ----------------------------------------------------------- resolve_scale
    Case("resolve_scale", "unknown string", lambda: resolve_scale("1/L", 3), ValueError, "scale"),
    Case("resolve_scale", "zero", lambda: resolve_scale(0, 3), ValueError, "scale"),
    Case("resolve_scale", "inf", lambda: resolve_scale(INF, 3), ValueError, "scale"),
    Case("resolve_scale", "None", lambda: resolve_scale(None, 3), TypeError, "scale"),
    Case("resolve_scale", "d zero", lambda: resolve_scale("1/d", 0), ValueError, "d"),
    Case("resolve_scale", "d bool", lambda: resolve_scale("1/d", True), TypeError, "d"),
    # ---------------------------------------------------------- default_device
    Case(
        "default_device",
        "takes no arguments",
        lambda: default_device("cuda"),
        TypeError,
        r"default_device\(\)",
    ),
    # ------------------------------------------------------------ torch_threads
    Case("torch_threads", "zero", lambda: torch_threads(0).__enter__(), ValueError, "k"),
    Case("torch_threads", "float", lambda: torch_threads(1.5).__enter__(), TypeError, "k"),
    Case("torch_threads", "string", lambda: torch_threads("2").__enter__(), TypeError, "k"),
    # ------------------------------------------------------------- prompt_split
    Case(
        "prompt_split",
        "attn not Attention",
        lambda: prompt_split(FeedForward(2, 2), t(2, 1), t(2, 2)),
        TypeError,
        "attn",
    ),
    Case(
        "prompt_split",
        "P rows != d",
        lambda: prompt_split(attn3(), t(2, 1), t(3, 2)),
        ValueError,
        "P",
    ),
    Case(
        "prompt_split",
        "P no columns",
        lambda: prompt_split(attn3(), t(3, 0), t(3, 2)),
        ValueError,
        "P",
    ),
    Case(
        "prompt_split",
        "P nan",
        lambda: prompt_split(attn3(), nan_at(3, 1), t(3, 2)),
        ValueError,
        "P",
    ),
    Case("prompt_split", "P string", lambda: prompt_split(attn3(), "P", t(3, 2)), TypeError, "P"),
    Case(
        "prompt_split",
        "X inf",
        lambda: prompt_split(attn3(), t(3, 1), inf_at(3, 2)),
        ValueError,
        "X",
    ),
    Case(
        "prompt_split", "X rows", lambda: prompt_split(attn3(), t(3, 1), t(4, 2)), ValueError, "X"
    ),
    Case(
        "prompt_split",
        "X no columns",
        lambda: prompt_split(attn3(), t(3, 1), t(3, 0)),
        ValueError,
        "X",
    ),
    Case(
        "prompt_split",
        "queries rows",
        lambda: prompt_split(attn3(), t(3, 1), t(3, 2), queries=t(2, 1)),
        ValueError,
        "queries",
    ),
    Case(
        "prompt_split",
        "queries nan",
        lambda: prompt_split(attn3(), t(3, 1), t(3, 2), queries=nan_at(3, 1)),
        ValueError,
        "queries",
    ),
    Case(
        "PromptSplit",
        "combination with two heads",
        lambda: split2(heads=2).combination(),
        ValueError,
        "combination",
    ),
    # -------------------------------------------------------------- segment_fit
    Case(
        "segment_fit",
        "output string",
        lambda: segment_fit("o", t(2, 1), t(2, 1)),
        TypeError,
        "output",
    ),
    Case(
        "segment_fit",
        "a list",
        lambda: segment_fit(t(2, 1), [[1.0], [0.0]], t(2, 1)),
        TypeError,
        "a",
    ),
    Case("segment_fit", "b None", lambda: segment_fit(t(2, 1), t(2, 1), None), TypeError, "b"),
    Case(
        "segment_fit",
        "shapes differ",
        lambda: segment_fit(t(2, 1), t(2, 2), t(2, 1)),
        ValueError,
        "output, a and b",
    ),
    Case("segment_fit", "output 1-d", lambda: segment_fit(t(2), t(2), t(2)), ValueError, "output"),
    # --------------------------------------------------- check_prompt_identity
    Case(
        "check_prompt_identity",
        "n_draws zero",
        lambda: check_prompt_identity(0),
        ValueError,
        "n_draws",
    ),
    Case(
        "check_prompt_identity",
        "n_draws float",
        lambda: check_prompt_identity(2.5),
        TypeError,
        "n_draws",
    ),
    Case(
        "check_prompt_identity",
        "heads zero",
        lambda: check_prompt_identity(1, heads=0),
        ValueError,
        "heads",
    ),
    Case(
        "check_prompt_identity",
        "heads bool",
        lambda: check_prompt_identity(1, heads=True),
        TypeError,
        "heads",
    ),
    Case(
        "check_prompt_identity",
        "weight unknown",
        lambda: check_prompt_identity(1, weight="tokens"),
        ValueError,
        "weight",
    ),
    Case(
        "check_prompt_identity",
        "max_d zero",
        lambda: check_prompt_identity(1, max_d=0),
        ValueError,
        "max_d",
    ),
    Case(
        "check_prompt_identity",
        "max_length zero",
        lambda: check_prompt_identity(1, max_length=0),
        ValueError,
        "max_length",
    ),
    Case(
        "check_prompt_identity",
        "max_prompt_length negative",
        lambda: check_prompt_identity(1, max_prompt_length=-1),
        ValueError,
        "max_prompt_length",
    ),
    Case(
        "check_prompt_identity",
        "prompt_scale negative",
        lambda: check_prompt_identity(1, prompt_scale=-2.0),
        ValueError,
        "prompt_scale",
    ),
    Case(
        "check_prompt_identity",
        "prompt_scale string",
        lambda: check_prompt_identity(1, prompt_scale="2"),
        TypeError,
        "prompt_scale",
    ),
    Case(
        "check_prompt_identity",
        "seed negative",
        lambda: check_prompt_identity(1, seed=-1),
        ValueError,
        "seed",
    ),
    # ------------------------------------------------- prompt_weight_by_length
    Case(
        "prompt_weight_by_length",
        "attn not Attention",
        lambda: prompt_weight_by_length(None, t(1, 3, 2), [1]),
        TypeError,
        "attn",
    ),
    Case(
        "prompt_weight_by_length",
        "attn with two heads",
        lambda: prompt_weight_by_length(attn3(heads=2), t(1, 3, 2), [1]),
        ValueError,
        "attn",
    ),
    Case(
        "prompt_weight_by_length",
        "X 2-d",
        lambda: prompt_weight_by_length(attn3(), t(3, 2), [1]),
        ValueError,
        "X",
    ),
    Case(
        "prompt_weight_by_length",
        "X nan",
        lambda: prompt_weight_by_length(attn3(), nan_at(1, 3, 2), [1]),
        ValueError,
        "X",
    ),
    Case(
        "prompt_weight_by_length",
        "lengths empty",
        lambda: prompt_weight_by_length(attn3(), t(1, 3, 2), []),
        ValueError,
        "lengths",
    ),
    Case(
        "prompt_weight_by_length",
        "lengths int",
        lambda: prompt_weight_by_length(attn3(), t(1, 3, 2), 4),
        TypeError,
        "lengths",
    ),
    Case(
        "prompt_weight_by_length",
        "lengths zero",
        lambda: prompt_weight_by_length(attn3(), t(1, 3, 2), [1, 0]),
        ValueError,
        "lengths",
    ),
    Case(
        "prompt_weight_by_length",
        "lengths bool",
        lambda: prompt_weight_by_length(attn3(), t(1, 3, 2), [True]),
        TypeError,
        "lengths",
    ),
    Case(
        "prompt_weight_by_length",
        "n_prompts zero",
        lambda: prompt_weight_by_length(attn3(), t(1, 3, 2), [1], n_prompts=0),
        ValueError,
        "n_prompts",
    ),
    Case(
        "prompt_weight_by_length",
        "prompt_scale nan",
        lambda: prompt_weight_by_length(attn3(), t(1, 3, 2), [1], prompt_scale=NAN),
        ValueError,
        "prompt_scale",
    ),
    Case(
        "prompt_weight_by_length",
        "seed negative",
        lambda: prompt_weight_by_length(attn3(), t(1, 3, 2), [1], seed=-5),
        ValueError,
        "seed",
    ),
    # -------------------------------------------------------------- dp_distance
    Case(
        "dp_distance",
        "f1 not callable",
        lambda: dp_distance(1.0, ident, 2, 2, n_samples=4),
        TypeError,
        "f1",
    ),
    Case(
        "dp_distance",
        "f2 not callable",
        lambda: dp_distance(ident, "f", 2, 2, n_samples=4),
        TypeError,
        "f2",
    ),
    Case(
        "dp_distance",
        "p below one",
        lambda: dp_distance(ident, ident, 2, 2, p=0.5),
        ValueError,
        "p",
    ),
    Case(
        "dp_distance", "p infinite", lambda: dp_distance(ident, ident, 2, 2, p=INF), ValueError, "p"
    ),
    Case("dp_distance", "p nan", lambda: dp_distance(ident, ident, 2, 2, p=NAN), ValueError, "p"),
    Case("dp_distance", "p string", lambda: dp_distance(ident, ident, 2, 2, p="2"), TypeError, "p"),
    Case("dp_distance", "p bool", lambda: dp_distance(ident, ident, 2, 2, p=True), TypeError, "p"),
    Case("dp_distance", "d zero", lambda: dp_distance(ident, ident, 0, 2), ValueError, "d"),
    Case("dp_distance", "L negative", lambda: dp_distance(ident, ident, 2, -1), ValueError, "L"),
    Case("dp_distance", "L bool", lambda: dp_distance(ident, ident, 2, True), TypeError, "L"),
    Case(
        "dp_distance",
        "n_samples one",
        lambda: dp_distance(ident, ident, 2, 2, n_samples=1),
        ValueError,
        "n_samples",
    ),
    Case(
        "dp_distance",
        "batch_size zero",
        lambda: dp_distance(ident, ident, 2, 2, batch_size=0),
        ValueError,
        "batch_size",
    ),
    Case(
        "dp_distance",
        "seed negative",
        lambda: dp_distance(ident, ident, 2, 2, seed=-1),
        ValueError,
        "seed",
    ),
    Case(
        "dp_distance",
        "f1 wrong output shape",
        lambda: dp_distance(lambda X: X[..., :1], ident, 2, 2, n_samples=4),
        ValueError,
        "f1",
    ),
    Case(
        "dp_distance",
        "f2 returns nan",
        lambda: dp_distance(ident, lambda X: X * NAN, 2, 2, n_samples=4),
        ValueError,
        "f2",
    ),
    Case(
        "dp_distance",
        "f2 returns a list",
        lambda: dp_distance(ident, lambda X: X.tolist(), 2, 2, n_samples=4),
        TypeError,
        r"f2\(X\)",
    ),
    Case("dp_norm_error", "X 2-d", lambda: dp_norm_error(ident, ident, t(2, 2)), ValueError, "X"),
    Case(
        "dp_norm_error",
        "p zero",
        lambda: dp_norm_error(ident, ident, t(1, 2, 2), p=0),
        ValueError,
        "p",
    ),
    Case(
        "dp_norm_error", "f1 None", lambda: dp_norm_error(None, ident, t(1, 2, 2)), TypeError, "f1"
    ),
    # ----------------------------------------------------------- uniform_inputs
    Case("uniform_inputs", "n zero", lambda: uniform_inputs(0, 2, 2), ValueError, "n"),
    Case("uniform_inputs", "d bool", lambda: uniform_inputs(3, False, 2), TypeError, "d"),
    Case("uniform_inputs", "L negative", lambda: uniform_inputs(3, 2, -4), ValueError, "L"),
    Case("uniform_inputs", "L float", lambda: uniform_inputs(3, 2, 4.0), TypeError, "L"),
    Case(
        "uniform_inputs", "seed float", lambda: uniform_inputs(3, 2, 2, seed=0.5), TypeError, "seed"
    ),
    Case(
        "uniform_inputs",
        "seed negative",
        lambda: uniform_inputs(3, 2, 2, seed=-2),
        ValueError,
        "seed",
    ),
    # ------------------------------------------------------------------ Estimate
    Case("Estimate", "upper z string", lambda: Estimate(1.0, 0.1, 10).upper("3"), TypeError, "z"),
    Case("Estimate", "upper z nan", lambda: Estimate(1.0, 0.1, 10).upper(NAN), ValueError, "z"),
    # ------------------------------------------------------------------- targets
    Case("random_relu_target", "d zero", lambda: random_relu_target(0, 2), ValueError, "d"),
    Case("random_relu_target", "L bool", lambda: random_relu_target(2, True), TypeError, "L"),
    Case(
        "random_relu_target",
        "lipschitz zero",
        lambda: random_relu_target(2, 2, lipschitz=0),
        ValueError,
        "lipschitz",
    ),
    Case(
        "random_relu_target",
        "lipschitz inf",
        lambda: random_relu_target(2, 2, lipschitz=INF),
        ValueError,
        "lipschitz",
    ),
    Case(
        "random_relu_target",
        "lipschitz string",
        lambda: random_relu_target(2, 2, lipschitz="1"),
        TypeError,
        "lipschitz",
    ),
    Case(
        "random_relu_target",
        "p below one",
        lambda: random_relu_target(2, 2, p=0.9),
        ValueError,
        "p",
    ),
    Case(
        "random_relu_target",
        "width zero",
        lambda: random_relu_target(2, 2, width=0),
        ValueError,
        "width",
    ),
    Case(
        "random_relu_target",
        "depth bool",
        lambda: random_relu_target(2, 2, depth=True),
        TypeError,
        "depth",
    ),
    Case(
        "random_relu_target",
        "depth zero",
        lambda: random_relu_target(2, 2, depth=0),
        ValueError,
        "depth",
    ),
    Case(
        "random_relu_target",
        "seed negative",
        lambda: random_relu_target(2, 2, seed=-1),
        ValueError,
        "seed",
    ),
    Case("mean_pool_target", "d negative", lambda: mean_pool_target(-1, 2), ValueError, "d"),
    Case("mean_pool_target", "L zero", lambda: mean_pool_target(2, 0), ValueError, "L"),
    Case(
        "mean_pool_target",
        "lipschitz negative",
        lambda: mean_pool_target(2, 2, lipschitz=-1.0),
        ValueError,
        "lipschitz",
    ),
    Case("mean_pool_target", "p zero", lambda: mean_pool_target(2, 2, p=0), ValueError, "p"),
    Case("shift_target", "shift float", lambda: shift_target(2, 3, shift=1.5), TypeError, "shift"),
    Case("shift_target", "shift bool", lambda: shift_target(2, 3, shift=True), TypeError, "shift"),
    Case("shift_target", "p nan", lambda: shift_target(2, 3, p=NAN), ValueError, "p"),
    Case("shift_target", "L zero", lambda: shift_target(2, 0), ValueError, "L"),
    Case(
        "LipschitzTarget",
        "call X columns",
        lambda: mean_pool_target(2, 3)(t(2, 4)),
        ValueError,
        "X",
    ),
    Case("LipschitzTarget", "call X rows", lambda: shift_target(2, 3)(t(4, 1, 3)), ValueError, "X"),
    Case(
        "LipschitzTarget", "call X nan", lambda: shift_target(2, 3)(nan_at(2, 3)), ValueError, "X"
    ),
    Case(
        "LipschitzTarget",
        "call X list",
        lambda: shift_target(2, 3)([[0.0] * 3] * 2),
        TypeError,
        "X",
    ),
    Case(
        "empirical_lipschitz",
        "f not callable",
        lambda: empirical_lipschitz(None, 2, 2),
        TypeError,
        "f",
    ),
    Case(
        "empirical_lipschitz", "d zero", lambda: empirical_lipschitz(ident, 0, 2), ValueError, "d"
    ),
    Case(
        "empirical_lipschitz", "L float", lambda: empirical_lipschitz(ident, 2, 2.0), TypeError, "L"
    ),
    Case(
        "empirical_lipschitz",
        "p below one",
        lambda: empirical_lipschitz(ident, 2, 2, p=0.5),
        ValueError,
        "p",
    ),
    Case(
        "empirical_lipschitz",
        "n_pairs zero",
        lambda: empirical_lipschitz(ident, 2, 2, n_pairs=0),
        ValueError,
        "n_pairs",
    ),
    Case(
        "empirical_lipschitz",
        "radii empty",
        lambda: empirical_lipschitz(ident, 2, 2, radii=()),
        ValueError,
        "radii",
    ),
    Case(
        "empirical_lipschitz",
        "radii zero",
        lambda: empirical_lipschitz(ident, 2, 2, radii=(0.1, 0.0)),
        ValueError,
        "radii",
    ),
    Case(
        "empirical_lipschitz",
        "radii string",
        lambda: empirical_lipschitz(ident, 2, 2, radii=("a",)),
        TypeError,
        "radii",
    ),
    Case(
        "empirical_lipschitz",
        "seed negative",
        lambda: empirical_lipschitz(ident, 2, 2, seed=-1),
        ValueError,
        "seed",
    ),
    Case(
        "empirical_lipschitz",
        "f returns nan",
        lambda: empirical_lipschitz(lambda X: X * NAN, 2, 2, n_pairs=4),
        ValueError,
        "f",
    ),
    Case(
        "empirical_lipschitz",
        "f returns a string",
        lambda: empirical_lipschitz(lambda X: "y", 2, 2, n_pairs=4),
        TypeError,
        r"f\(X\)",
    ),
    Case("operator_norm_bound", "W 1-d", lambda: operator_norm_bound(t(3)), ValueError, "W"),
    Case("operator_norm_bound", "W 3-d", lambda: operator_norm_bound(t(1, 3, 3)), ValueError, "W"),
    Case("operator_norm_bound", "W list", lambda: operator_norm_bound([[1.0]]), TypeError, "W"),
    Case(
        "operator_norm_bound",
        "p below one",
        lambda: operator_norm_bound(t(2, 2), p=0.99),
        ValueError,
        "p",
    ),
    # ------------------------------------------------------------------ plotting
    Case(
        "plot_segments",
        "split not a PromptSplit",
        lambda: plot_segments({"output": t(1, 1, 2, 1)}),
        TypeError,
        "split",
    ),
    Case("plot_segments", "split 2-d", lambda: plot_segments(split2()), ValueError, "split"),
    Case(
        "plot_segments",
        "split d = 3",
        lambda: plot_segments(
            prompt_split(Attention(3, seed=0), t(1, 1, 3, 1), t(1, 2, 3, 2), queries=t(1, 2, 3, 1))
        ),
        ValueError,
        "split",
    ),
    Case(
        "plot_weight_by_length",
        "weights 2-d",
        lambda: plot_weight_by_length([1, 2], t(2, 5), ["a"]),
        ValueError,
        "weights",
    ),
    Case(
        "plot_weight_by_length",
        "weights length mismatch",
        lambda: plot_weight_by_length([1, 2, 4], t(1, 2, 5), ["a"]),
        ValueError,
        "weights",
    ),
    Case(
        "plot_weight_by_length",
        "weights labels mismatch",
        lambda: plot_weight_by_length([1, 2], t(1, 2, 5), ["a", "b"]),
        ValueError,
        "weights",
    ),
    Case(
        "plot_weight_by_length",
        "weights list",
        lambda: plot_weight_by_length([1, 2], [[[0.5] * 5] * 2], ["a"]),
        TypeError,
        "weights",
    ),
    Case("axes_or_new", "ax a figure", lambda: axes_or_new(new_figure()[0]), TypeError, "ax"),
    Case("axes_or_new", "ax a list", lambda: axes_or_new([]), TypeError, "ax"),
    Case("axes_or_new", "width zero", lambda: axes_or_new(width=0.0), ValueError, "width"),
    Case("new_figure", "ncols zero", lambda: new_figure(0), ValueError, "ncols"),
    Case(
        "plain_log_ticks",
        "axis an Axes",
        lambda: plain_log_ticks(new_figure()[1][0]),
        TypeError,
        "axis",
    ),
    Case("plain_log_ticks", "axis a string", lambda: plain_log_ticks("y"), TypeError, "axis"),
    Case(
        "shared_legend",
        "fig an Axes",
        lambda: shared_legend(new_figure()[1][0], []),
        TypeError,
        "fig",
    ),
    Case("shared_legend", "axes one Axes", lambda: shared_legend(*_one_panel()), TypeError, "axes"),
    Case(
        "shared_legend",
        "axes of strings",
        lambda: shared_legend(new_figure()[0], ["a"]),
        TypeError,
        "axes",
    ),
    Case("new_figure", "ncols bool", lambda: new_figure(True), TypeError, "ncols"),
    Case("new_figure", "nrows negative", lambda: new_figure(1, -1), ValueError, "nrows"),
    Case("new_figure", "nrows float", lambda: new_figure(1, 2.0), TypeError, "nrows"),
    Case("new_figure", "width negative", lambda: new_figure(width=-1.0), ValueError, "width"),
    Case("new_figure", "height zero", lambda: new_figure(height=0), ValueError, "height"),
    Case("new_figure", "height string", lambda: new_figure(height="4"), TypeError, "height"),
    Case("use_style", "takes no arguments", lambda: use_style("dark"), TypeError, r"use_style\(\)"),
    # ------------------------------------------------------------ loglog_slope
    Case(
        "loglog_slope",
        "x not numbers",
        lambda: loglog_slope(["a", "b"], [1.0, 2.0]),
        TypeError,
        "x",
    ),
    Case(
        "loglog_slope",
        "y not positive",
        lambda: loglog_slope([1.0, 2.0], [1.0, 0.0]),
        ValueError,
        "y",
    ),
    Case(
        "loglog_slope", "x constant", lambda: loglog_slope([2.0, 2.0], [1.0, 3.0]), ValueError, "x"
    ),
]


@pytest.mark.parametrize("case", case_params(CASES))
def test_bad_input_names_the_argument(case: Case):
    check_case(case)


def _public_callables() -> set[str]:
    names = set()
    for name in ptheory.__all__:
        obj = getattr(ptheory, name)
        if getattr(obj, "__module__", "") == "ptheory.verdicts":
            continue  # re-exported; swept in test_verdicts_bad_inputs.py
        if inspect.isclass(obj) or inspect.isfunction(obj):
            names.add(name)
    for name in plotting.__all__:
        if inspect.isfunction(getattr(plotting, name)):
            names.add(name)
    return names


FOUNDATION = {"distance", "measure", "model", "plotting", "segments", "targets"}


def test_every_other_module_has_its_sweep():
    """Modules beyond the foundation carry their sweep in ``test_<module>_bad_inputs.py``."""
    tests = Path(__file__).parent
    modules = {m.name for m in pkgutil.iter_modules(ptheory.__path__) if m.name[0] != "_"}
    assert FOUNDATION <= modules
    missing = [
        m for m in sorted(modules - FOUNDATION) if not (tests / f"test_{m}_bad_inputs.py").is_file()
    ]
    assert not missing, f"no bad-input sweep file for ptheory modules {missing}"


def test_sweep_covers_every_public_callable():
    covered = {c.target for c in CASES}
    missing = _public_callables() - covered
    assert not missing, f"no bad-input case for {sorted(missing)}"
    assert len(_public_callables()) >= 20


def test_case_ids_are_unique():
    ids = [(c.target, c.desc) for c in CASES]
    assert len(ids) == len(set(ids))


def test_names_match_real_parameters():
    """Each case names a parameter of its target (or the target itself)."""
    allowed_extra = {
        "Z",  # forward argument of the layers
        "queries",
        "keys",
        "combination",
        "output, a and b",
        "f2(X)",
        "f(X)",
        "layers[0]",
        "default_device()",
        "use_style()",
        "X",  # LipschitzTarget.__call__
        "z",  # Estimate.upper
        "W_Q",
        "W_K",
        "W_V",
        "W_O",
        "W_1",
        "b_1",
        "W_2",
        "b_2",
    }
    for c in CASES:
        name = c.name.replace("\\", "")
        obj = getattr(ptheory, c.target, None) or getattr(plotting, c.target, None)
        if obj is None:
            obj = {
                "resolve_scale": resolve_scale,
                "prompt_weight_by_length": prompt_weight_by_length,
                "dp_norm_error": dp_norm_error,
                "operator_norm_bound": operator_norm_bound,
            }[c.target]
        params = set(inspect.signature(obj).parameters)
        assert name in params or name in allowed_extra, (c.target, name)


def test_message_is_specific_for_wrong_prompt_dimension():
    with pytest.raises(ValueError, match=re.escape("P must have d = 3 rows")):
        prompt_forward(build_transformer(3), t(2, 1), t(3, 2))


def test_module_only_prompt_forward_without_d_check():
    """A model without ``d`` still gets the P-vs-X check."""

    class Id(nn.Module):
        def forward(self, Z):
            return Z

    with pytest.raises(ValueError, match=r"^P"):
        prompt_forward(Id(), t(5, 1), t(3, 2))
