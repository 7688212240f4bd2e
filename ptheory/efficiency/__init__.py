"""Efficiency: the norm phase transition of prompt-tuning inference.

Serves Hu et al. (2025), the almost-linear inference result and the efficiency criterion,
through Alman and Song (2023). Attention
here uses the row layout of the attention literature (``Q: (..., n_q, d)``,
``K, V: (..., n, d)``) and the score scale ``1/d`` by default; the prompt-tuning entry point
takes the book's columns.

Modules:
    exact: ``exact_attention``, PyTorch's fast exact path and the float64 reference.
    polynomial: ``poly_attention``, the polynomial method (the almost-linear result of Hu et
        al.), its feature map, coefficients and proved error bounds.
    degree: ``select_degree``, the smallest degree for an entry bound ``B`` and an error
        target, with its rank ``C(d + g, g)``; the cost model ``exact_flops``/``poly_flops``;
        ``error_vs_bound``, error as ``B`` grows.
    inference: ``norm_criterion`` and ``prompt_inference``: queries from the input, keys
        and values from ``[P, X]``, the fast path when a degree that guarantees the error
        costs less than exact attention (the almost-linear result of Hu et al.).
    transition: the planted-duplicate experiment, the nearest-neighbour gadget of the
        hardness reduction, and the largest feasible ``B`` (the hardness beyond the criterion).
    cached: the prompt-tuning case: ``key_state`` summarises a fixed prompt's keys once,
        ``attend_with_state`` reuses it, ``causal_poly_attention`` (prefix sums).
    baselines: ``performer_attention`` (FAVOR+), ``elu_attention`` (linear attention) and
        ``nystrom_attention`` (Nystromformer).
    certificate: ``certify`` (the proved range of a polynomial's relative error),
        ``minimax_coefficients``, ``minimax_lower_bound`` and ``two_cluster_input`` (the
        input that attains the certificate).
    timing: ``benchmark_attention`` (certified degree, the former kernel side by side,
        interleaved medians, baselines, errors, memory), ``decode_benchmark``,
        ``error_time_curve``.
    plots: the figures of the two efficiency chapters.
"""

from . import (
    baselines,
    cached,
    certificate,
    degree,
    exact,
    inference,
    plots,
    polynomial,
    timing,
    transition,
)
from .baselines import elu_attention, nystrom_attention, performer_attention
from .cached import KeyState, PolyDecoder, attend_with_state, causal_poly_attention, key_state
from .certificate import (
    Certificate,
    certify,
    degree_profile,
    minimax_coefficients,
    minimax_lower_bound,
    range_attention_error,
    two_cluster_input,
)
from .degree import (
    EXP_FLOPS,
    SEARCHED,
    CertificateReport,
    DegreePlan,
    certificate_report,
    error_vs_bound,
    exact_flops,
    largest_paying_bound,
    monomial_count,
    poly_flops,
    select_degree,
)
from .exact import exact_attention
from .inference import NormCriterion, PromptInference, norm_criterion, prompt_inference
from .plots import (
    plot_certificate,
    plot_certificate_panels,
    plot_decode,
    plot_error_time,
    plot_error_vs_bound,
    plot_feasible_bound,
    plot_gadget,
    plot_planted_mass,
    plot_speedup,
)
from .polynomial import (
    attention_error_bound,
    entry_error_bound,
    exp_poly_coefficients,
    feature_map,
    monomial_exponents,
    monomial_weights,
    poly_attention,
    poly_error_bound,
    rounding_error_bound,
    score_radius,
)
from .timing import (
    benchmark_attention,
    crossover_size,
    decode_benchmark,
    error_time_curve,
    interleaved_samples,
    interleaved_times,
    median_time,
    peak_memory,
)
from .transition import (
    FeasibleBound,
    GadgetResult,
    LshResult,
    largest_feasible_bound,
    lsh_gadget,
    nn_gadget,
    planted_mass,
    sign_vectors,
)

__all__ = [
    "EXP_FLOPS",
    "SEARCHED",
    "Certificate",
    "CertificateReport",
    "DegreePlan",
    "FeasibleBound",
    "GadgetResult",
    "KeyState",
    "LshResult",
    "NormCriterion",
    "PolyDecoder",
    "PromptInference",
    "attend_with_state",
    "attention_error_bound",
    "baselines",
    "benchmark_attention",
    "cached",
    "causal_poly_attention",
    "certificate",
    "certificate_report",
    "certify",
    "crossover_size",
    "decode_benchmark",
    "degree",
    "degree_profile",
    "elu_attention",
    "entry_error_bound",
    "error_time_curve",
    "error_vs_bound",
    "exact",
    "exact_attention",
    "exact_flops",
    "exp_poly_coefficients",
    "feature_map",
    "inference",
    "interleaved_samples",
    "interleaved_times",
    "key_state",
    "largest_feasible_bound",
    "largest_paying_bound",
    "lsh_gadget",
    "median_time",
    "minimax_coefficients",
    "minimax_lower_bound",
    "monomial_count",
    "monomial_exponents",
    "monomial_weights",
    "nn_gadget",
    "norm_criterion",
    "nystrom_attention",
    "peak_memory",
    "performer_attention",
    "planted_mass",
    "plot_certificate",
    "plot_certificate_panels",
    "plot_decode",
    "plot_error_time",
    "plot_error_vs_bound",
    "plot_feasible_bound",
    "plot_gadget",
    "plot_planted_mass",
    "plot_speedup",
    "plots",
    "poly_attention",
    "poly_error_bound",
    "poly_flops",
    "polynomial",
    "prompt_inference",
    "range_attention_error",
    "rounding_error_bound",
    "score_radius",
    "select_degree",
    "sign_vectors",
    "timing",
    "transition",
    "two_cluster_input",
]
