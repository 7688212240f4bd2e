"""Graders of the Universality part (instructor-only): prompt_as_index, contextual_mapping,
universality. Each recomputes the quantity its exercise asks for and compares within that
quantity's own error; messages say what is wrong, never the answer."""

from __future__ import annotations

import math
from functools import lru_cache

import torch

import ptheory as pt
from ptheory import universality as U
from ptheory.exercises import universality as E
from ptheory.exercises._core import as_array

from ._core import Wrong, grader


def _close(value: float, reference: float, rtol: float) -> bool:
    return abs(value - reference) <= rtol * abs(reference)


def _direction(value: float, reference: float) -> str:
    return "too large" if value > reference else "too small"


# ------------------------------------------------------------------ ex-index-code
def _largest_level(d: int, L: int, digits: int) -> int:
    v = 2
    while U.log10_class_size(d, L, 1 / (v + 1)) < digits:
        v += 1
    return v


@grader("ex-index-code")
def index_code(data: object) -> None:
    """The largest ``1/delta`` with fewer than ``10^100`` targets, recounted."""
    if isinstance(data, bool) or not isinstance(data, int):
        raise Wrong("your answer was not recorded as a whole number")
    case = E.INDEX_CODE
    if data == _largest_level(case["d"], case["L"], case["digits"]):
        return None
    if U.log10_class_size(case["d"], case["L"], 1 / max(data, 2)) >= case["digits"]:
        raise Wrong(
            f"answer = {data} is too large: at 1/delta = {data} there are already "
            "10^100 quantized targets or more"
        )
    raise Wrong(f"answer = {data} is too small: a finer grid still has fewer than 10^100 targets")


# ------------------------------------------------------------------ ex-index-break
@lru_cache(maxsize=1)
def _index_break_reference() -> tuple[float, float, float]:
    case = E.INDEX_BREAK
    model = U.construct(case["d"], case["L"], case["delta"])
    wave = U.triangle_wave(case["slope"])
    tuned = model.tuned(model.prompt_for(wave))
    measured = pt.dp_distance(tuned, wave, case["d"], case["L"]).value  # the defaults
    # the model outputs the constant 7/8; the wave is uniform on [0, 1] in distribution
    exact = math.sqrt(1 / 12 + (7 / 8 - 1 / 2) ** 2)
    to_bar = pt.dp_distance(
        tuned, U.quantized_target(wave, case["d"], case["L"], case["delta"]), 1, 1
    ).value
    return measured, exact, to_bar


@grader("ex-index-break")
def index_break(data: object) -> None:
    """The measured distance against ``pt.dp_distance`` recomputed with its defaults; the
    exact distance against the integral by hand."""
    if not isinstance(data, list) or len(data) != 2:
        raise Wrong("your answer was not recorded as two numbers")
    measured, exact = (float(x) for x in data)
    ref_measured, ref_exact, _ = _index_break_reference()
    if not _close(measured, ref_measured, 1e-9):
        if _close(measured, ref_exact, 1e-6):
            raise Wrong(
                "your first number is the exact distance: the exercise asks first for "
                "the estimate pt.dp_distance returns"
            )
        raise Wrong(
            f"the measured distance {measured:.6g} is {_direction(measured, ref_measured)} "
            "for pt.dp_distance between the tuned model and the triangle wave with its "
            "default sample (d_2, 4096 inputs, seed 0)"
        )
    if _close(exact, ref_exact, 1e-6):
        return None
    if _close(exact, 1 / math.sqrt(12), 1e-6):
        raise Wrong(
            "that exact value is the distance from the wave to its mean 1/2: which "
            "constant does the tuned model output?"
        )
    if _close(exact, ref_exact**2, 1e-6):
        raise Wrong("your exact value is a mean squared error: d_2 takes its square root")
    raise Wrong(
        f"the exact distance {exact:.6g} is {_direction(exact, ref_exact)}: compute "
        "the integral of (f(x) - c)^2 over [0, 1] for the constant c the model "
        "outputs, and take its square root"
    )


# ------------------------------------------------------------------ ex-cm-collision
@grader("ex-cm-collision")
def cm_collision(data: object) -> None:
    """Two different grid prompts whose averaging-head codes agree on every grid input,
    recomputed exactly in integers (``n zeta_k = n theta_k + sum_i theta_i``)."""
    if not isinstance(data, dict) or not isinstance(data.get("levels"), list):
        raise Wrong("your answer was not recorded as two grid prompts")
    if float(data.get("off_grid", 1.0)) > 1e-9:
        raise Wrong("every entry of a grid prompt must be a cell centre, 1/4 or 3/4")
    levels = data["levels"]
    case = E.CM_COLLISION
    if len(levels) != 2 or any(len(row) != case["prompt_length"] for row in levels):
        raise Wrong("your answer was not recorded as two prompts of 8 tokens")
    if levels[0] == levels[1]:
        raise Wrong(
            "your two prompts are the same grid prompt: the exercise asks for two different prompts"
        )
    prompt, inputs = U.precision.token_codes(case["d"], case["L"], case["delta"])
    index = [sum(int(v) * 2 ** (len(row) - 1 - i) for i, v in enumerate(row)) for row in levels]
    codes = prompt[index]  # (2, L_p): each prompt's token codes
    for g, x in enumerate(inputs.tolist()):
        sums = [int(codes[j].sum()) + sum(x) for j in range(2)]
        if sums[0] != sums[1]:
            raise Wrong(
                f"at beta = 0 your prompts give grid input {g + 1} different codes: "
                "they do not collide"
            )
    return None


# ------------------------------------------------------------------ ex-cm-rank
@lru_cache(maxsize=1)
def _rank_reference() -> tuple[float, float, float, float]:
    case = E.CM_RANK
    beta = U.default_beta(case["d"], case["L"], case["delta"])
    full = U.contextual_separation(case["d"], case["L"], case["delta"], beta, rank="full")
    one = U.contextual_separation(case["d"], case["L"], case["delta"], beta)
    return full.relative, one.relative, full.min_gap, one.min_gap


@grader("ex-cm-rank")
def cm_rank(data: object) -> None:
    """Both relative separations recomputed with the construction's scale."""
    if not isinstance(data, list) or len(data) != 2:
        raise Wrong("your answer was not recorded as two numbers")
    full, one = (float(x) for x in data)
    ref_full, ref_one, gap_full, gap_one = _rank_reference()
    rtol = 1e-6  # float64 codes: their rounding is below 1e-9 of the gaps
    if _close(full, ref_one, rtol) and _close(one, ref_full, rtol):
        raise Wrong("the two numbers are swapped: full rank first, then rank one")
    if _close(full, gap_full, rtol) or _close(one, gap_one, rtol):
        raise Wrong(
            "that is the absolute gap: the exercise asks for the gap relative to the "
            "range of the codes"
        )
    for value, ref, name in ((full, ref_full, "full rank"), (one, ref_one, "rank one")):
        if not _close(value, ref, rtol):
            raise Wrong(
                f"the {name} separation {value:.6g} is {_direction(value, ref)} "
                "(measured at the construction's scale, U.default_beta(2, 1, 0.5))"
            )
    return None


# ------------------------------------------------------------------ ex-univ-own
@grader("ex-univ-own")
def univ_own(data: object) -> None:
    """Shape, range and Lipschitz constant of the reader's target (the steepest pairs of
    the probe's adversarial search, their quotients recomputed here), and the sharp check
    on it: the model tuned with its oracle prompt equals its quantized target off the
    ramps (the prompt and the target's table come from its grid values)."""
    if not isinstance(data, dict) or not isinstance(data.get("search"), dict):
        raise Wrong("your answer was not recorded as a function's outputs")
    inputs = E.own_inputs()
    if set(data) != {*inputs, "search"}:
        raise Wrong("your answer was not recorded on every test input")
    outputs = {k: as_array(data[k], tuple(inputs[k].shape), what="f(X)") for k in inputs}
    search = data["search"]
    keys = ("a", "b", "fa", "fb")
    if any(k not in search for k in (*keys, "low", "high")):
        raise Wrong("your answer's Lipschitz search was not recorded")
    pairs = {k: as_array(search[k], what="the search's pairs") for k in keys}
    if len({tuple(v.shape) for v in pairs.values()}) != 1 or pairs["a"].shape[-1:] != (2,):
        raise Wrong("your answer's Lipschitz search was not recorded")
    E.judge_own(outputs, {**search, **{k: v.tolist() for k, v in pairs.items()}})
    d, L, delta = E.OWN["d"], E.OWN["L"], E.OWN["delta"]
    model = _own_model()
    table = U.quantize(outputs["grid"], delta)  # (G, d, L): q o f at the cell centres
    agree = U.off_ramp_agreement(model, _prompt(table, d), _lookup(table, d, L, delta))
    if not agree.passes():
        raise Wrong("the tuned model differs from your quantized target off the ramps")
    return None


@lru_cache(maxsize=1)
def _own_model():
    return U.construct(E.OWN["d"], E.OWN["L"], E.OWN["delta"])


def _prompt(table: torch.Tensor, d: int) -> torch.Tensor:
    return table.transpose(1, 2).reshape(-1, d).T.contiguous()  # as prompt_for lays it out


def _lookup(table: torch.Tensor, d: int, L: int, delta: float):
    """A target whose values at the cell centres are ``table`` (its quantization is the
    reader's ``q o f o q``): the table looked up by cell."""
    return U.quantized_target(lambda X: table[_cells(X, d, L, delta)] if len(X) else X, d, L, delta)


def _cells(X: torch.Tensor, d: int, L: int, delta: float) -> torch.Tensor:
    v1 = round(1 / delta)
    level = torch.clamp(torch.floor(X * v1), 0, v1 - 1).long()
    weights = v1 ** torch.arange(d * L - 1, -1, -1)
    return (level.transpose(1, 2).reshape(X.shape[0], -1) * weights).sum(dim=1)


# ------------------------------------------------------------------ ex-univ-eta
@lru_cache(maxsize=1)
def _eta_reference() -> tuple[float, float]:
    case = E.UNIV_ETA
    f = pt.random_relu_target(case["d"], case["L"], seed=case["target_seed"])
    errors = []
    for eta in (1e-7, case["eta"]):  # the default eta, then the wide ramps
        model = U.construct(case["d"], case["L"], case["delta"], eta=eta)
        errors.append(pt.dp_distance(model.tuned(model.prompt_for(f)), f, 1, 1).value)
    return errors[0], errors[1]


@grader("ex-univ-eta")
def univ_eta(data: object) -> None:
    """Both errors recomputed with ``pt.dp_distance``'s default sample."""
    if not isinstance(data, list) or len(data) != 2:
        raise Wrong("your answer was not recorded as two numbers")
    default, wide = (float(x) for x in data)
    ref_default, ref_wide = _eta_reference()
    rtol = 1e-6  # the same 4096 inputs: only float64 rounding differs
    if _close(default, ref_wide, rtol) and _close(wide, ref_default, rtol):
        raise Wrong("the two errors are swapped: the default eta first, then eta = 0.05")
    for value, ref, name in (
        (default, ref_default, "the default eta"),
        (wide, ref_wide, "eta = 0.05"),
    ):
        if not _close(value, ref, rtol):
            raise Wrong(
                f"the error with {name} ({value:.6g}) is {_direction(value, ref)}: "
                "measure it with pt.dp_distance and its default sample (d_2, 4096 "
                "inputs, seed 0)"
            )
    return None
