"""Universality: a fixed one-layer, one-head transformer; the prompt is all that changes.

Which result each piece serves (precise statements are this book's reconstructions of
Wang et al. 2023 and of Hu et al. 2025, Theorems 2.1/2.2):

* :mod:`.grid`: quantization and counting: ``quantize``, ``quantized_target``,
  ``class_size`` (the ``V1^{dL G}`` quantized targets), ``quantization_bound``
  (``(C + 1)(delta/2)(dL)^{1/p}``).
* :mod:`.layers`: the fixed layers, from :mod:`ptheory.model`: ``FF_1``
  (``ff1_layer``, token codes), one attention head (``contextual_attention``), ``FF_2``
  as one wide layer (``ff2_wide``) or a deep narrow stack (``ff2_deep``).
* :mod:`.build`: ``construct(d, L, delta)`` returns a :class:`UniversalModel` with
  ``forward(P, X)`` and the oracle ``prompt_for(target)``; ``dimensions`` gives every
  size analytically; ``grid_codes``, ``context_codes``, ``front_model``, ``ff2_table``;
  ``MAX_CODES``, the one limit on what is enumerated.
* :mod:`.checks`: the sharp check ``off_ramp_agreement`` (equality with ``q o f o q``
  off the quantizer's ramps).
* :mod:`.contextual`: the attention layer as a contextual mapping, in float64
  (``contextual_separation``); :mod:`.precision`: the same codes exactly (``mpmath``),
  in float64 and float32, and through ``ptheory.efficiency.poly_attention``, and the
  built model's own codes against them (``model_code_error``);
  :mod:`.scales`: the finitely many attention scales at which two codes coincide
  (``collision_sweep``; ``nearest_collisions``, a certified search with the rate bound
  ``slope_bound``) and the exponent of the gap at small
  scales (``taylor_order``, ``small_scale_slope``).
* :mod:`.tuning`: the oracle prompt against gradient-tuned prompts.
* :mod:`.anchor`: the construction's size against a Jackson-type count, as functions of
  ``eps`` (the comparison with Petrov, Torr and Bibi 2024).
* :mod:`.experiments`: the chapter's measurements (``error_sweep``, ``quantized_sweep``,
  ``cost_rows``); :mod:`.targets`: targets with an exact Lipschitz constant;
  :mod:`.plots`: the figures of the three universality chapters.
"""

from . import (
    anchor,
    checks,
    contextual,
    experiments,
    grid,
    layers,
    plots,
    precision,
    scales,
    targets,
)
from .anchor import (
    construction_size,
    jackson_count,
    max_loglog_slope,
    resolution_for,
    size_comparison,
    sphere_polynomial_dim,
)
from .build import (
    MAX_CODES,
    UniversalModel,
    all_prompts,
    cached_construct,
    check_enumerable,
    construct,
    context_codes,
    contextual_codes,
    default_beta,
    dimensions,
    ff2_table,
    front_model,
    grid_codes,
)
from .checks import Agreement, off_ramp_agreement, on_ramp
from .contextual import Separation, contextual_separation
from .experiments import cost_rows, error_sweep, quantized_sweep
from .grid import (
    class_size,
    grid_sequences,
    levels,
    log10_class_size,
    quantization_bound,
    quantize,
    quantized_target,
    target_table,
)
from .plots import (
    plot_class_size,
    plot_error_vs_delta,
    plot_pipeline,
    plot_precision,
    plot_scale_sweep,
    plot_size_comparison,
    plot_width_depth,
)
from .precision import (
    PrecisionRow,
    exact_codes,
    model_code_error,
    poly_codes,
    separation_by_precision,
)
from .scales import (
    collision_sweep,
    nearest_collisions,
    slope_bound,
    small_scale_slope,
    taylor_order,
)
from .targets import sine_wave, triangle_wave

__all__ = [
    "MAX_CODES",
    "Agreement",
    "PrecisionRow",
    "Separation",
    "UniversalModel",
    "all_prompts",
    "anchor",
    "cached_construct",
    "check_enumerable",
    "checks",
    "class_size",
    "collision_sweep",
    "construct",
    "construction_size",
    "context_codes",
    "contextual",
    "contextual_codes",
    "contextual_separation",
    "cost_rows",
    "default_beta",
    "dimensions",
    "error_sweep",
    "exact_codes",
    "experiments",
    "ff2_table",
    "front_model",
    "grid",
    "grid_codes",
    "grid_sequences",
    "jackson_count",
    "layers",
    "levels",
    "log10_class_size",
    "max_loglog_slope",
    "model_code_error",
    "nearest_collisions",
    "off_ramp_agreement",
    "on_ramp",
    "plot_class_size",
    "plot_error_vs_delta",
    "plot_pipeline",
    "plot_precision",
    "plot_scale_sweep",
    "plot_size_comparison",
    "plot_width_depth",
    "plots",
    "poly_codes",
    "precision",
    "quantization_bound",
    "quantize",
    "quantized_sweep",
    "quantized_target",
    "resolution_for",
    "scales",
    "separation_by_precision",
    "sine_wave",
    "size_comparison",
    "slope_bound",
    "small_scale_slope",
    "sphere_polynomial_dim",
    "target_table",
    "targets",
    "taylor_order",
    "triangle_wave",
]
