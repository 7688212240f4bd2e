"""Bad-input sweep of ``ptheory.efficiency``: every public function names what it refuses.

Each case feeds one wrong shape, type or value and checks the exception type and that the
message starts with the argument's name (see ``tests/badinput.py``).
"""

from __future__ import annotations

import inspect

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest
import torch

import ptheory as pt
from ptheory import efficiency as eff
from ptheory.model import Attention, FeedForward, Transformer

from badinput import Case, case_params, check_case, public_callables

F64 = torch.float64
NAN, INF = float("nan"), float("inf")


def t(*shape: int, fill: float = 0.5) -> torch.Tensor:
    return torch.full(shape, fill, dtype=F64)


def bad(*shape: int, value: float = NAN) -> torch.Tensor:
    x = t(*shape)
    x.view(-1)[-1] = value
    return x


def layer() -> Attention:
    return pt.freeze(Attention(3, scale="1/d", seed=0))


def two_attention_model() -> Transformer:
    return Transformer([Attention(3, seed=0), FeedForward(3, 4), Attention(3, seed=1)])


Q, K, V = t(4, 3), t(5, 3), t(5, 2)

# Records that only ptheory builds, to return results: no arguments to check.
RECORDS = {
    "Certificate",
    "CertificateReport",
    "FeasibleBound",
    "GadgetResult",
    "KeyState",
    "LshResult",
    "NormCriterion",
    "PromptInference",
}


def qkv_cases(target: str, fn) -> list[Case]:
    """The shared checks of Q, K, V for a function called as fn(Q, K, V)."""
    return [
        Case(target, "Q list", lambda: fn([[0.5]], K, V), TypeError, "Q"),
        Case(target, "Q complex", lambda: fn(Q.to(torch.complex128), K, V), TypeError, "Q"),
        Case(target, "Q 1-d", lambda: fn(t(3), K, V), ValueError, "Q"),
        Case(target, "K 1-d", lambda: fn(Q, t(3), V), ValueError, "K"),
        Case(target, "V 1-d", lambda: fn(Q, K, t(5)), ValueError, "V"),
        Case(target, "K other d", lambda: fn(Q, t(5, 2), V), ValueError, "K"),
        Case(target, "V other n", lambda: fn(Q, K, t(6, 2)), ValueError, "V"),
        Case(target, "K no keys", lambda: fn(Q, t(0, 3), t(0, 2)), ValueError, "K"),
        Case(target, "Q no features", lambda: fn(t(4, 0), t(5, 0), V), ValueError, "Q"),
        Case(
            target, "batch mismatch", lambda: fn(t(2, 4, 3), t(3, 5, 3), t(5, 2)), ValueError, "Q"
        ),
        Case(target, "Q nan", lambda: fn(bad(4, 3), K, V), ValueError, "Q"),
        Case(target, "K inf", lambda: fn(Q, bad(5, 3, value=INF), V), ValueError, "K"),
        Case(target, "V nan", lambda: fn(Q, K, bad(5, 2)), ValueError, "V"),
    ]


def ax_bad():
    return "not an axes"


RESULT = {
    "rows": [
        {
            "n": 8,
            "config": "B=1",
            "entry_bound": 1.0,
            "threads": 1,
            "seconds": {"exact": 1.0, "poly": 0.5},
            "speedup": 2.0,
            "affordable": True,
            "degree": 2,
            "legacy_degree": 3,
        }
    ]
}

CASES: list[Case] = [
    # ------------------------------------------------------------- exact_attention
    *qkv_cases("exact_attention", lambda q, k, v: eff.exact_attention(q, k, v)),
    Case(
        "exact_attention",
        "scale string",
        lambda: eff.exact_attention(Q, K, V, scale="1/n"),
        ValueError,
        "scale",
    ),
    Case(
        "exact_attention",
        "scale zero",
        lambda: eff.exact_attention(Q, K, V, scale=0.0),
        ValueError,
        "scale",
    ),
    Case(
        "exact_attention",
        "scale bool",
        lambda: eff.exact_attention(Q, K, V, scale=True),
        TypeError,
        "scale",
    ),
    Case(
        "exact_attention",
        "reference int",
        lambda: eff.exact_attention(Q, K, V, reference=1),
        TypeError,
        "reference",
    ),
    # -------------------------------------------------------------- poly_attention
    *qkv_cases("poly_attention", lambda q, k, v: eff.poly_attention(q, k, v, 2)),
    Case(
        "poly_attention",
        "degree negative",
        lambda: eff.poly_attention(Q, K, V, -1),
        ValueError,
        "degree",
    ),
    Case(
        "poly_attention",
        "degree float",
        lambda: eff.poly_attention(Q, K, V, 2.0),
        TypeError,
        "degree",
    ),
    Case(
        "poly_attention",
        "degree too large",
        lambda: eff.poly_attention(Q, K, V, 65),
        ValueError,
        "degree",
    ),
    Case(
        "poly_attention",
        "method unknown",
        lambda: eff.poly_attention(Q, K, V, 2, "pade"),
        ValueError,
        "method",
    ),
    Case(
        "poly_attention",
        "method int",
        lambda: eff.poly_attention(Q, K, V, 2, 3),
        TypeError,
        "method",
    ),
    Case(
        "poly_attention",
        "radius negative",
        lambda: eff.poly_attention(Q, K, V, 2, radius=-1.0),
        ValueError,
        "radius",
    ),
    Case(
        "poly_attention",
        "radius nan",
        lambda: eff.poly_attention(Q, K, V, 2, radius=NAN),
        ValueError,
        "radius",
    ),
    Case(
        "poly_attention",
        "chunk zero",
        lambda: eff.poly_attention(Q, K, V, 2, chunk=0),
        ValueError,
        "chunk",
    ),
    Case(
        "poly_attention",
        "chunk float",
        lambda: eff.poly_attention(Q, K, V, 2, chunk=8.0),
        TypeError,
        "chunk",
    ),
    Case(
        "poly_attention",
        "scale negative",
        lambda: eff.poly_attention(Q, K, V, 2, scale=-1.0),
        ValueError,
        "scale",
    ),
    # ------------------------------------------------------------ poly_error_bound
    *qkv_cases("poly_error_bound", lambda q, k, v: eff.poly_error_bound(q, k, v, 2)),
    Case(
        "poly_error_bound",
        "degree negative",
        lambda: eff.poly_error_bound(Q, K, V, -2),
        ValueError,
        "degree",
    ),
    Case(
        "poly_error_bound",
        "method unknown",
        lambda: eff.poly_error_bound(Q, K, V, 2, "x"),
        ValueError,
        "method",
    ),
    Case(
        "poly_error_bound",
        "radius negative",
        lambda: eff.poly_error_bound(Q, K, V, 2, radius=-1.0),
        ValueError,
        "radius",
    ),
    # ---------------------------------------------------------------- score_radius
    Case("score_radius", "Q 1-d", lambda: eff.score_radius(t(3), K), ValueError, "Q"),
    Case("score_radius", "K other d", lambda: eff.score_radius(Q, t(5, 2)), ValueError, "K"),
    Case("score_radius", "K nan", lambda: eff.score_radius(Q, bad(5, 3)), ValueError, "K"),
    Case(
        "score_radius", "scale unknown", lambda: eff.score_radius(Q, K, "1/n"), ValueError, "scale"
    ),
    # ----------------------------------------------------------------- feature_map
    Case("feature_map", "X 1-d", lambda: eff.feature_map(t(3), 2), ValueError, "X"),
    Case("feature_map", "X list", lambda: eff.feature_map([1.0], 2), TypeError, "X"),
    Case("feature_map", "X nan", lambda: eff.feature_map(bad(2, 3), 2), ValueError, "X"),
    Case("feature_map", "X no features", lambda: eff.feature_map(t(2, 0), 2), ValueError, "X"),
    Case(
        "feature_map", "degree negative", lambda: eff.feature_map(t(2, 3), -1), ValueError, "degree"
    ),
    # ---------------------------------------------------------- monomial_exponents
    Case("monomial_exponents", "d zero", lambda: eff.monomial_exponents(0, 2), ValueError, "d"),
    Case("monomial_exponents", "d float", lambda: eff.monomial_exponents(2.0, 2), TypeError, "d"),
    Case(
        "monomial_exponents",
        "degree negative",
        lambda: eff.monomial_exponents(2, -1),
        ValueError,
        "degree",
    ),
    # ------------------------------------------------------- exp_poly_coefficients
    Case(
        "exp_poly_coefficients",
        "degree negative",
        lambda: eff.exp_poly_coefficients(-1),
        ValueError,
        "degree",
    ),
    Case(
        "exp_poly_coefficients",
        "method unknown",
        lambda: eff.exp_poly_coefficients(2, "x"),
        ValueError,
        "method",
    ),
    Case(
        "exp_poly_coefficients",
        "radius negative",
        lambda: eff.exp_poly_coefficients(2, "chebyshev", -1.0),
        ValueError,
        "radius",
    ),
    Case(
        "exp_poly_coefficients",
        "radius inf",
        lambda: eff.exp_poly_coefficients(2, "chebyshev", INF),
        ValueError,
        "radius",
    ),
    Case(
        "exp_poly_coefficients",
        "radius string",
        lambda: eff.exp_poly_coefficients(2, "chebyshev", "1"),
        TypeError,
        "radius",
    ),
    # ----------------------------------------------------------- entry_error_bound
    Case(
        "entry_error_bound",
        "degree negative",
        lambda: eff.entry_error_bound(-1, 1.0),
        ValueError,
        "degree",
    ),
    Case(
        "entry_error_bound",
        "radius negative",
        lambda: eff.entry_error_bound(2, -1.0),
        ValueError,
        "radius",
    ),
    Case(
        "entry_error_bound",
        "method unknown",
        lambda: eff.entry_error_bound(2, 1.0, "x"),
        ValueError,
        "method",
    ),
    # ------------------------------------------------------- attention_error_bound
    Case(
        "attention_error_bound",
        "eps negative",
        lambda: eff.attention_error_bound(-0.1),
        ValueError,
        "eps",
    ),
    Case(
        "attention_error_bound",
        "eps nan",
        lambda: eff.attention_error_bound(NAN),
        ValueError,
        "eps",
    ),
    Case(
        "attention_error_bound",
        "eps string",
        lambda: eff.attention_error_bound("a"),
        TypeError,
        "eps",
    ),
    Case(
        "attention_error_bound",
        "v_max negative",
        lambda: eff.attention_error_bound(0.1, -1.0),
        ValueError,
        "v_max",
    ),
    # -------------------------------------------------------------- monomial_count
    Case("monomial_count", "d zero", lambda: eff.monomial_count(0, 2), ValueError, "d"),
    Case(
        "monomial_count", "degree negative", lambda: eff.monomial_count(3, -1), ValueError, "degree"
    ),
    # --------------------------------------------------------------- select_degree
    Case(
        "select_degree",
        "entry_bound negative",
        lambda: eff.select_degree(-1.0, 1e-3, 4),
        ValueError,
        "entry_bound",
    ),
    Case(
        "select_degree",
        "entry_bound string",
        lambda: eff.select_degree("1", 1e-3, 4),
        TypeError,
        "entry_bound",
    ),
    Case("select_degree", "eps zero", lambda: eff.select_degree(1.0, 0.0, 4), ValueError, "eps"),
    Case(
        "select_degree",
        "eps unreachable",
        lambda: eff.select_degree(10.0, 1e-12, 4, max_degree=5),
        ValueError,
        "eps",
    ),
    Case("select_degree", "d zero", lambda: eff.select_degree(1.0, 1e-3, 0), ValueError, "d"),
    Case(
        "select_degree",
        "method unknown",
        lambda: eff.select_degree(1.0, 1e-3, 4, method="x"),
        ValueError,
        "method",
    ),
    Case(
        "select_degree",
        "max_degree too large",
        lambda: eff.select_degree(1.0, 1e-3, 4, max_degree=65),
        ValueError,
        "max_degree",
    ),
    Case(
        "DegreePlan",
        "flops n negative",
        lambda: eff.select_degree(1.0, 1e-3, 4).flops(-1),
        ValueError,
        "n",
    ),
    # -------------------------------------------------------------- error_vs_bound
    Case("error_vs_bound", "n zero", lambda: eff.error_vs_bound(0, [1.0], [1]), ValueError, "n"),
    Case(
        "error_vs_bound",
        "bounds string",
        lambda: eff.error_vs_bound(8, "1", [1]),
        TypeError,
        "entry_bounds",
    ),
    Case(
        "error_vs_bound",
        "bounds negative",
        lambda: eff.error_vs_bound(8, [-1.0], [1]),
        ValueError,
        "entry_bounds",
    ),
    Case(
        "error_vs_bound",
        "degrees empty",
        lambda: eff.error_vs_bound(8, [1.0], []),
        TypeError,
        "degrees",
    ),
    Case(
        "error_vs_bound",
        "degrees negative",
        lambda: eff.error_vs_bound(8, [1.0], [-1]),
        ValueError,
        "degrees",
    ),
    Case(
        "error_vs_bound", "d zero", lambda: eff.error_vs_bound(8, [1.0], [1], d=0), ValueError, "d"
    ),
    Case(
        "error_vs_bound",
        "method unknown",
        lambda: eff.error_vs_bound(8, [1.0], [1], method="x"),
        ValueError,
        "method",
    ),
    Case(
        "error_vs_bound",
        "seed negative",
        lambda: eff.error_vs_bound(8, [1.0], [1], seed=-1),
        ValueError,
        "seed",
    ),
    # -------------------------------------------------------------- norm_criterion
    Case("norm_criterion", "Q 1-d", lambda: eff.norm_criterion(t(3), K), ValueError, "Q"),
    Case("norm_criterion", "K other d", lambda: eff.norm_criterion(Q, t(5, 4)), ValueError, "K"),
    Case("norm_criterion", "Q nan", lambda: eff.norm_criterion(bad(4, 3), K), ValueError, "Q"),
    Case(
        "norm_criterion",
        "eps zero",
        lambda: eff.norm_criterion(Q, K, eps=0.0),
        ValueError,
        "eps",
    ),
    Case(
        "norm_criterion",
        "scale unknown",
        lambda: eff.norm_criterion(Q, K, scale="x"),
        ValueError,
        "scale",
    ),
    # ------------------------------------------------------------ prompt_inference
    Case(
        "prompt_inference",
        "model a function",
        lambda: eff.prompt_inference(abs, t(3, 2), t(3, 4)),
        TypeError,
        "model",
    ),
    Case(
        "prompt_inference",
        "model two attentions",
        lambda: eff.prompt_inference(two_attention_model(), t(3, 2), t(3, 4)),
        ValueError,
        "model",
    ),
    Case(
        "prompt_inference",
        "eps zero",
        lambda: eff.prompt_inference(layer(), t(3, 2), t(3, 4), eps=0.0),
        ValueError,
        "eps",
    ),
    Case(
        "prompt_inference",
        "method unknown",
        lambda: eff.prompt_inference(layer(), t(3, 2), t(3, 4), method="x"),
        ValueError,
        "method",
    ),
    Case(
        "prompt_inference",
        "path unknown",
        lambda: eff.prompt_inference(layer(), t(3, 2), t(3, 4), path="fast"),
        ValueError,
        "path",
    ),
    Case(
        "prompt_inference",
        "degree negative",
        lambda: eff.prompt_inference(layer(), t(3, 2), t(3, 4), degree=-1),
        ValueError,
        "degree",
    ),
    Case(
        "prompt_inference",
        "X other d",
        lambda: eff.prompt_inference(layer(), t(3, 2), t(2, 4)),
        ValueError,
        "X",
    ),
    Case(
        "prompt_inference",
        "X 4-d",
        lambda: eff.prompt_inference(layer(), t(3, 2), t(1, 1, 3, 4)),
        ValueError,
        "X",
    ),
    Case(
        "prompt_inference",
        "X nan",
        lambda: eff.prompt_inference(layer(), t(3, 2), bad(3, 4)),
        ValueError,
        "X",
    ),
    Case(
        "prompt_inference",
        "X no columns",
        lambda: eff.prompt_inference(layer(), t(3, 2), t(3, 0)),
        ValueError,
        "X",
    ),
    Case(
        "prompt_inference",
        "P other d",
        lambda: eff.prompt_inference(layer(), t(2, 2), t(3, 4)),
        ValueError,
        "P",
    ),
    Case(
        "prompt_inference",
        "P 3-d",
        lambda: eff.prompt_inference(layer(), t(2, 3, 2), t(3, 4)),
        ValueError,
        "P",
    ),
    Case(
        "prompt_inference",
        "P inf",
        lambda: eff.prompt_inference(layer(), bad(3, 2, value=INF), t(3, 4)),
        ValueError,
        "P",
    ),
    Case(
        "prompt_inference",
        "positions too short",
        lambda: eff.prompt_inference(pt.build_transformer(3, max_len=4), t(3, 2), t(3, 4)),
        ValueError,
        "P and X",
    ),
    # ---------------------------------------------------------------- sign_vectors
    Case("sign_vectors", "n zero", lambda: eff.sign_vectors(0, 3), ValueError, "n"),
    Case("sign_vectors", "d zero", lambda: eff.sign_vectors(3, 0), ValueError, "d"),
    Case(
        "sign_vectors", "seed negative", lambda: eff.sign_vectors(3, 3, seed=-1), ValueError, "seed"
    ),
    # ---------------------------------------------------------------- planted_mass
    Case("planted_mass", "n one", lambda: eff.planted_mass(1, [1.0]), ValueError, "n"),
    Case(
        "planted_mass", "bounds string", lambda: eff.planted_mass(8, "1"), TypeError, "entry_bounds"
    ),
    Case(
        "planted_mass", "bounds empty", lambda: eff.planted_mass(8, []), ValueError, "entry_bounds"
    ),
    Case(
        "planted_mass",
        "bounds negative",
        lambda: eff.planted_mass(8, [-1.0]),
        ValueError,
        "entry_bounds",
    ),
    Case("planted_mass", "d zero", lambda: eff.planted_mass(8, [1.0], d=0), ValueError, "d"),
    Case(
        "planted_mass",
        "trials zero",
        lambda: eff.planted_mass(8, [1.0], trials=0),
        ValueError,
        "trials",
    ),
    Case(
        "planted_mass",
        "seed negative",
        lambda: eff.planted_mass(8, [1.0], seed=-1),
        ValueError,
        "seed",
    ),
    # -------------------------------------------------------------------- nn_gadget
    Case("nn_gadget", "n one", lambda: eff.nn_gadget(1, [1.0]), ValueError, "n"),
    Case("nn_gadget", "bounds nan", lambda: eff.nn_gadget(8, [NAN]), ValueError, "entry_bounds"),
    Case("nn_gadget", "d one", lambda: eff.nn_gadget(8, [1.0], d=1), ValueError, "d"),
    Case(
        "nn_gadget",
        "queries one",
        lambda: eff.nn_gadget(8, [1.0], queries=1),
        ValueError,
        "queries",
    ),
    Case(
        "nn_gadget",
        "flips too many",
        lambda: eff.nn_gadget(8, [1.0], d=8, flips=5),
        ValueError,
        "flips",
    ),
    Case(
        "nn_gadget", "seed negative", lambda: eff.nn_gadget(8, [1.0], seed=-1), ValueError, "seed"
    ),
    # ------------------------------------------------------- largest_feasible_bound
    Case("largest_feasible_bound", "n one", lambda: eff.largest_feasible_bound(1), ValueError, "n"),
    Case(
        "largest_feasible_bound",
        "d zero",
        lambda: eff.largest_feasible_bound(8, d=0),
        ValueError,
        "d",
    ),
    Case(
        "largest_feasible_bound",
        "target zero",
        lambda: eff.largest_feasible_bound(8, target=0.0),
        ValueError,
        "target",
    ),
    Case(
        "largest_feasible_bound",
        "rank_exponent negative",
        lambda: eff.largest_feasible_bound(8, rank_exponent=-0.5),
        ValueError,
        "rank_exponent",
    ),
    Case(
        "largest_feasible_bound",
        "tol zero",
        lambda: eff.largest_feasible_bound(8, tol=0.0),
        ValueError,
        "tol",
    ),
    Case(
        "largest_feasible_bound",
        "step zero",
        lambda: eff.largest_feasible_bound(8, step=0.0),
        ValueError,
        "step",
    ),
    # ---------------------------------------------------------------- median_time
    Case("median_time", "fn not callable", lambda: eff.median_time(3), TypeError, "fn"),
    Case(
        "median_time",
        "repeats zero",
        lambda: eff.median_time(lambda: None, 0),
        ValueError,
        "repeats",
    ),
    # --------------------------------------------------------- benchmark_attention
    Case(
        "benchmark_attention",
        "sizes string",
        lambda: eff.benchmark_attention("64"),
        TypeError,
        "sizes",
    ),
    Case(
        "benchmark_attention",
        "sizes empty",
        lambda: eff.benchmark_attention([]),
        ValueError,
        "sizes",
    ),
    Case(
        "benchmark_attention",
        "sizes one",
        lambda: eff.benchmark_attention([1]),
        ValueError,
        "sizes",
    ),
    Case(
        "benchmark_attention", "d zero", lambda: eff.benchmark_attention([8], d=0), ValueError, "d"
    ),
    Case(
        "benchmark_attention",
        "eps zero",
        lambda: eff.benchmark_attention([8], eps=0.0),
        ValueError,
        "eps",
    ),
    Case(
        "benchmark_attention",
        "method unknown",
        lambda: eff.benchmark_attention([8], method="x"),
        ValueError,
        "method",
    ),
    Case(
        "benchmark_attention",
        "runs zero",
        lambda: eff.benchmark_attention([8], runs=0),
        ValueError,
        "runs",
    ),
    Case(
        "benchmark_attention",
        "entry_bounds string",
        lambda: eff.benchmark_attention([8], entry_bounds="1"),
        TypeError,
        "entry_bounds",
    ),
    Case(
        "benchmark_attention",
        "alphas negative",
        lambda: eff.benchmark_attention([8], alphas=[-1.0]),
        ValueError,
        "alphas",
    ),
    Case(
        "benchmark_attention",
        "threads zero",
        lambda: eff.benchmark_attention([8], threads=[0]),
        ValueError,
        "threads",
    ),
    Case(
        "benchmark_attention",
        "errors string",
        lambda: eff.benchmark_attention([8], errors="yes"),
        TypeError,
        "errors",
    ),
    Case(
        "benchmark_attention",
        "error_rows zero",
        lambda: eff.benchmark_attention([8], error_rows=0),
        ValueError,
        "error_rows",
    ),
    # ------------------------------------------------------------- timing helpers
    Case("interleaved_times", "fns list", lambda: eff.interleaved_times([abs]), TypeError, "fns"),
    Case(
        "interleaved_times",
        "runs zero",
        lambda: eff.interleaved_times({"f": abs}, 0),
        ValueError,
        "runs",
    ),
    Case("peak_memory", "fn not callable", lambda: eff.peak_memory(3), TypeError, "fn"),
    Case(
        "interleaved_samples",
        "fns empty",
        lambda: eff.interleaved_samples({}),
        TypeError,
        "fns",
    ),
    Case("decode_benchmark", "sizes empty", lambda: eff.decode_benchmark([]), TypeError, "sizes"),
    Case(
        "decode_benchmark",
        "steps zero",
        lambda: eff.decode_benchmark([8], steps=0),
        ValueError,
        "steps",
    ),
    Case(
        "decode_benchmark",
        "entry_bound zero",
        lambda: eff.decode_benchmark([8], entry_bound=0.0),
        ValueError,
        "entry_bound",
    ),
    Case("error_time_curve", "n one", lambda: eff.error_time_curve(1, 0.5), ValueError, "n"),
    Case(
        "error_time_curve",
        "entry_bound zero",
        lambda: eff.error_time_curve(8, 0.0),
        ValueError,
        "entry_bound",
    ),
    # ----------------------------------------------------------------- certificate
    Case("certify", "degree negative", lambda: eff.certify(-1, 1.0), ValueError, "degree"),
    Case("certify", "radius negative", lambda: eff.certify(2, -1.0), ValueError, "radius"),
    Case("certify", "method unknown", lambda: eff.certify(2, 1.0, "x"), ValueError, "method"),
    Case(
        "certify",
        "fit_radius smaller",
        lambda: eff.certify(2, 1.0, "chebyshev", fit_radius=0.5),
        ValueError,
        "fit_radius",
    ),
    Case(
        "range_attention_error",
        "low above high",
        lambda: eff.range_attention_error(0.1, -0.1),
        ValueError,
        "low",
    ),
    Case(
        "range_attention_error",
        "v_max negative",
        lambda: eff.range_attention_error(-0.1, 0.1, -1.0),
        ValueError,
        "v_max",
    ),
    Case(
        "minimax_coefficients",
        "degree too large",
        lambda: eff.minimax_coefficients(65, 1.0),
        ValueError,
        "degree",
    ),
    Case(
        "minimax_lower_bound",
        "radius negative",
        lambda: eff.minimax_lower_bound(2, -1.0),
        ValueError,
        "radius",
    ),
    Case(
        "two_cluster_input",
        "cert not a certificate",
        lambda: eff.two_cluster_input(0.5, 1.0),
        TypeError,
        "cert",
    ),
    Case(
        "two_cluster_input",
        "entry_bound too small",
        lambda: eff.two_cluster_input(eff.certify(2, 1.0), 0.5),
        ValueError,
        "entry_bound",
    ),
    Case(
        "degree_profile",
        "entry_bound zero",
        lambda: eff.degree_profile(0.0, [1]),
        ValueError,
        "entry_bound",
    ),
    Case(
        "degree_profile",
        "degrees negative",
        lambda: eff.degree_profile(0.5, [-1]),
        ValueError,
        "degrees",
    ),
    Case(
        "certificate_report",
        "eps zero",
        lambda: eff.certificate_report(0.5, 0.0),
        ValueError,
        "eps",
    ),
    Case(
        "certificate_report",
        "entry_bound zero",
        lambda: eff.certificate_report(0.0, 1e-3),
        ValueError,
        "entry_bound",
    ),
    Case(
        "nystrom_attention",
        "landmarks zero",
        lambda: eff.nystrom_attention(Q, K, V, 0),
        ValueError,
        "landmarks",
    ),
    Case(
        "nystrom_attention",
        "landmarks above n",
        lambda: eff.nystrom_attention(Q, K, V, 50),
        ValueError,
        "landmarks",
    ),
    Case(
        "PolyDecoder",
        "degree negative",
        lambda: eff.PolyDecoder(3, 2, -1),
        ValueError,
        "degree",
    ),
    Case(
        "PolyDecoder",
        "radius missing",
        lambda: eff.PolyDecoder(3, 2, 2, "minimax"),
        ValueError,
        "radius",
    ),
    # ------------------------------------------------------------------ cost model
    Case("exact_flops", "n_q negative", lambda: eff.exact_flops(-1, 4, 2), ValueError, "n_q"),
    Case("exact_flops", "d zero", lambda: eff.exact_flops(1, 4, 0), ValueError, "d"),
    Case(
        "exact_flops",
        "exp_flops negative",
        lambda: eff.exact_flops(1, 4, 2, exp_flops=-1.0),
        ValueError,
        "exp_flops",
    ),
    Case("poly_flops", "n negative", lambda: eff.poly_flops(1, -4, 2, 1), ValueError, "n"),
    Case("poly_flops", "degree 65", lambda: eff.poly_flops(1, 4, 2, 65), ValueError, "degree"),
    Case("poly_flops", "d_v zero", lambda: eff.poly_flops(1, 4, 2, 1, 0), ValueError, "d_v"),
    Case("largest_paying_bound", "n zero", lambda: eff.largest_paying_bound(0), ValueError, "n"),
    Case(
        "largest_paying_bound",
        "eps zero",
        lambda: eff.largest_paying_bound(64, eps=0.0),
        ValueError,
        "eps",
    ),
    Case(
        "largest_paying_bound",
        "method unknown",
        lambda: eff.largest_paying_bound(64, method="x"),
        ValueError,
        "method",
    ),
    Case("lsh_gadget", "n one", lambda: eff.lsh_gadget(1), ValueError, "n"),
    Case("lsh_gadget", "bits zero", lambda: eff.lsh_gadget(8, bits=0), ValueError, "bits"),
    Case("lsh_gadget", "tables zero", lambda: eff.lsh_gadget(8, tables=0), ValueError, "tables"),
    Case("lsh_gadget", "flips large", lambda: eff.lsh_gadget(8, d=8, flips=5), ValueError, "flips"),
    # ------------------------------------------------------------ rounding, weights
    Case(
        "rounding_error_bound",
        "degree negative",
        lambda: eff.rounding_error_bound(-1, 1.0, n=4, d=2),
        ValueError,
        "degree",
    ),
    Case(
        "rounding_error_bound",
        "radius negative",
        lambda: eff.rounding_error_bound(1, -1.0, n=4, d=2),
        ValueError,
        "radius",
    ),
    Case(
        "rounding_error_bound",
        "n zero",
        lambda: eff.rounding_error_bound(1, 1.0, n=0, d=2),
        ValueError,
        "n",
    ),
    Case(
        "rounding_error_bound",
        "dtype int",
        lambda: eff.rounding_error_bound(1, 1.0, n=4, d=2, dtype=torch.int32),
        TypeError,
        "dtype",
    ),
    Case(
        "rounding_error_bound",
        "chunk zero",
        lambda: eff.rounding_error_bound(1, 1.0, n=4, d=2, chunk=0),
        ValueError,
        "chunk",
    ),
    Case(
        "monomial_weights",
        "coefficients short",
        lambda: eff.monomial_weights(2, 3, [1.0, 1.0]),
        ValueError,
        "coefficients",
    ),
    Case(
        "monomial_weights",
        "d zero",
        lambda: eff.monomial_weights(0, 1, [1.0, 1.0]),
        ValueError,
        "d",
    ),
    # ----------------------------------------------------------- prompt state, causal
    Case("key_state", "K 1-d", lambda: eff.key_state(t(3), V, 2), ValueError, "K"),
    Case("key_state", "degree 65", lambda: eff.key_state(K, V, 65), ValueError, "degree"),
    Case(
        "key_state",
        "radius missing",
        lambda: eff.key_state(K, V, 2, "chebyshev"),
        ValueError,
        "radius",
    ),
    Case("key_state", "chunk zero", lambda: eff.key_state(K, V, 2, chunk=0), ValueError, "chunk"),
    Case(
        "attend_with_state",
        "state tensor",
        lambda: eff.attend_with_state(Q, K),
        TypeError,
        "state",
    ),
    Case(
        "attend_with_state",
        "Q other d",
        lambda: eff.attend_with_state(t(4, 2), eff.key_state(K, V, 2)),
        ValueError,
        "Q",
    ),
    Case(
        "attend_with_state",
        "V other d_v",
        lambda: eff.attend_with_state(Q, eff.key_state(K, V, 2), K, t(5, 3)),
        ValueError,
        "V",
    ),
    Case(
        "causal_poly_attention",
        "Q rows",
        lambda: eff.causal_poly_attention(Q, K, V, 2),
        ValueError,
        "Q",
    ),
    Case(
        "causal_poly_attention",
        "chunk zero",
        lambda: eff.causal_poly_attention(K, K, V, 2, chunk=0),
        ValueError,
        "chunk",
    ),
    Case(
        "causal_poly_attention",
        "radius missing",
        lambda: eff.causal_poly_attention(K, K, V, 2, "chebyshev"),
        ValueError,
        "radius",
    ),
    # ------------------------------------------------------------------ baselines
    Case(
        "performer_attention",
        "rank zero",
        lambda: eff.performer_attention(Q, K, V, 0),
        ValueError,
        "rank",
    ),
    Case(
        "performer_attention",
        "Q batched",
        lambda: eff.performer_attention(t(2, 4, 3), t(2, 5, 3), t(2, 5, 2), 4),
        ValueError,
        "Q",
    ),
    Case(
        "performer_attention",
        "seed negative",
        lambda: eff.performer_attention(Q, K, V, 4, seed=-1),
        ValueError,
        "seed",
    ),
    Case("elu_attention", "rank zero", lambda: eff.elu_attention(Q, K, V, 0), ValueError, "rank"),
    Case("elu_attention", "K other d", lambda: eff.elu_attention(Q, t(5, 4), V), ValueError, "K"),
    Case(
        "benchmark_attention",
        "seed negative",
        lambda: eff.benchmark_attention([8], seed=-1),
        ValueError,
        "seed",
    ),
    # -------------------------------------------------------------- crossover_size
    Case("crossover_size", "result list", lambda: eff.crossover_size([1]), TypeError, "result"),
    # ---------------------------------------------------------------------- plots
    Case(
        "plot_error_vs_bound",
        "errors shape",
        lambda: eff.plot_error_vs_bound([1.0, 2.0], t(3, 2), [1, 2]),
        ValueError,
        "errors",
    ),
    Case(
        "plot_error_vs_bound",
        "bounds 2-d",
        lambda: eff.plot_error_vs_bound(t(1, 2), t(1, 2), [1]),
        ValueError,
        "bounds",
    ),
    Case(
        "plot_error_vs_bound",
        "errors string",
        lambda: eff.plot_error_vs_bound([1.0], np.array(["a"]), [1]),
        TypeError,
        "errors",
    ),
    Case(
        "plot_error_vs_bound",
        "ax string",
        lambda: eff.plot_error_vs_bound([1.0], t(1, 1), [1], ax=ax_bad()),
        TypeError,
        "ax",
    ),
    Case(
        "plot_speedup", "ax string", lambda: eff.plot_speedup(RESULT, ax=ax_bad()), TypeError, "ax"
    ),
    Case("plot_speedup", "result list", lambda: eff.plot_speedup([]), TypeError, "result"),
    Case(
        "plot_certificate_panels",
        "profiles list",
        lambda: eff.plot_certificate_panels([]),
        TypeError,
        "profiles",
    ),
    Case(
        "plot_certificate_panels",
        "empty profiles",
        lambda: eff.plot_certificate_panels({}),
        TypeError,
        "profiles",
    ),
    Case(
        "plot_certificate", "profile list", lambda: eff.plot_certificate([]), TypeError, "profile"
    ),
    Case("plot_error_time", "curve list", lambda: eff.plot_error_time([]), TypeError, "curve"),
    Case("plot_decode", "result list", lambda: eff.plot_decode([]), TypeError, "result"),
    Case(
        "plot_planted_mass",
        "masses shape",
        lambda: eff.plot_planted_mass([8], [1.0, 2.0], t(1, 3, 2)),
        ValueError,
        "masses",
    ),
    Case(
        "plot_planted_mass",
        "ratios 2-d",
        lambda: eff.plot_planted_mass([8], t(1, 2), t(1, 2, 2)),
        ValueError,
        "ratios",
    ),
    Case("plot_gadget", "results empty", lambda: eff.plot_gadget({}), TypeError, "results"),
    Case(
        "plot_feasible_bound",
        "results empty",
        lambda: eff.plot_feasible_bound({}),
        TypeError,
        "results",
    ),
    Case(
        "plot_feasible_bound",
        "results numbers",
        lambda: eff.plot_feasible_bound({8: [1.0]}),
        TypeError,
        "results",
    ),
]


@pytest.mark.parametrize("case", case_params(CASES))
def test_bad_input_names_the_argument(case: Case) -> None:
    check_case(case)


def test_sweep_covers_every_public_callable() -> None:
    covered = {c.target for c in CASES}
    missing = public_callables(eff) - covered - RECORDS
    assert not missing, f"no bad-input case for {sorted(missing)}"
    assert RECORDS <= public_callables(eff)


def test_case_ids_are_unique() -> None:
    ids = [(c.target, c.desc) for c in CASES]
    assert len(ids) == len(set(ids))


def test_names_match_real_parameters() -> None:
    extra = {"P and X", "n"}  # positions message; DegreePlan.flops(n)
    for c in CASES:
        obj = getattr(eff, c.target)
        params = set(inspect.signature(obj).parameters)
        assert c.name in params or c.name in extra, (c.target, c.name)
