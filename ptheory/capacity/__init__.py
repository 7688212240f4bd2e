"""Capacity of prompt tuning: what a prompt can memorize, and what no prompt can.

Modules, along the theory's seams:

* :mod:`~ptheory.capacity.engine`: the batched prompt-tuning engine (restarts and prompt
  lengths in one tensor computation, Adam and L-BFGS), used by every chapter of the part.
* :mod:`~ptheory.capacity.optim`: batched L-BFGS over independent runs, single-thread helper.
* :mod:`~ptheory.capacity.single_layer`: the single-layer model ``FF o Attn`` of the
  limitation chapters, its one attention finder, ``FF``'s constant and inverse, and the
  score direction of a query.
* :mod:`~ptheory.capacity.rays`: Wang et al.'s single-layer limitation (the two rays that
  do not meet) and its certified lower bound on the loss of every prompt.
* :mod:`~ptheory.capacity.entropy`: the entropy identity ``log T = mean score + H(w)``
  (the book's lemma), the prompt-length bound of an exact fit, the reduced problem of
  examples that share their query, and the one-token multiplier.
* :mod:`~ptheory.capacity.studies`: the seed studies of the limitation chapter.
* :mod:`~ptheory.capacity.adapt`: the weight-space baselines, LoRA (closed form or
  trained) and full fine-tuning, on the same frozen model and loss.
* :mod:`~ptheory.capacity.counting`: the book's own counting bound on the prompt length
  needed to memorize (valid for any method with ``nu``-bit parameters), the family of
  Lipschitz targets behind it, and its covering form for real-valued prompts.
* :mod:`~ptheory.capacity.lookup`: a frozen model that reads its prompt as a lookup table,
  a proved lower bound on its prompt length, and a search over every length.
* :mod:`~ptheory.capacity.quantized`: prompts with ``bits``-bit entries against the count.
* :mod:`~ptheory.capacity.invertible`: Wang et al.'s multi-layer limitation: layers whose
  residual branches are small make ``X -> tau_P(X)`` injective, with a quantitative bound;
  the Lipschitz constant of ``P -> tau_P``; adversarial searches against both.
* :mod:`~ptheory.capacity.plots`, :mod:`~ptheory.capacity.bound_plots`: the part's figures.
"""

from . import (
    adapt,
    bound_plots,
    counting,
    engine,
    entropy,
    invertible,
    lookup,
    plots,
    quantized,
    rays,
    single_layer,
    studies,
)
from .adapt import FitResult, LoRAResult, fine_tune, lora_fit, lora_lower_bound
from .bound_plots import (
    plot_branch_constants,
    plot_counting_bound,
    plot_lookup_lengths,
    plot_loss_by_norm,
    plot_quantized,
    plot_smallest_lengths,
)
from .counting import (
    bump_dataset,
    bump_height,
    bump_lipschitz_ratio,
    bump_target,
    counting_lower_bound,
    covering_length_bound,
    grid_points_per_coordinate,
    level_dataset,
)
from .engine import PromptTuneResult, check_dataset, fit_loss, initial_prompts, prompt_tune
from .entropy import (
    IdentityCheck,
    OneTokenMultiplier,
    PromptSummary,
    ReachablePoint,
    identity_check,
    length_lower_bound,
    one_token_multiplier,
    prompt_summary,
    reachable_loss,
    reachable_prompt,
    reachable_search,
    reduced_loss,
)
from .invertible import (
    InjectivityBound,
    WorstCase,
    collision_dataset,
    injectivity_bound,
    injectivity_lower_bound,
    prompt_lipschitz,
    residual_model,
    worst_branch_ratios,
    worst_expansion,
    worst_prompt_ratio,
)
from .lookup import (
    LookupReport,
    LookupSearch,
    embed_tokens,
    forced_crossings,
    lookup_length_bound,
    lookup_length_search,
    lookup_model,
    lookup_prompt,
    lookup_sharpness,
    memorize_by_lookup,
    merged_lookup_prompt,
)
from .plots import (
    plot_bound_slack,
    plot_length_study,
    plot_loss_by_length,
    plot_parameters,
    plot_rays,
)
from .quantized import QuantizedReport, quantize, quantized_memorization
from .rays import (
    RayBound,
    RayGeometry,
    apex_dataset,
    apex_spread,
    examplewise_bound,
    ray_bound,
    ray_geometry,
    ray_lower_bound,
    unmemorizable_dataset,
    with_extra_head,
)
from .single_layer import (
    attention_layer,
    ff_contraction,
    ff_inverse,
    score_direction,
    single_layer_model,
    single_layer_parts,
)
from .studies import LengthStudy, length_studies, length_study, study_problem

__all__ = [
    "FitResult",
    "IdentityCheck",
    "InjectivityBound",
    "LengthStudy",
    "LoRAResult",
    "LookupReport",
    "LookupSearch",
    "OneTokenMultiplier",
    "PromptSummary",
    "PromptTuneResult",
    "QuantizedReport",
    "RayBound",
    "RayGeometry",
    "ReachablePoint",
    "WorstCase",
    "adapt",
    "apex_dataset",
    "apex_spread",
    "attention_layer",
    "bound_plots",
    "bump_dataset",
    "bump_height",
    "bump_lipschitz_ratio",
    "bump_target",
    "check_dataset",
    "collision_dataset",
    "counting",
    "counting_lower_bound",
    "covering_length_bound",
    "embed_tokens",
    "engine",
    "entropy",
    "examplewise_bound",
    "ff_contraction",
    "ff_inverse",
    "fine_tune",
    "fit_loss",
    "forced_crossings",
    "grid_points_per_coordinate",
    "identity_check",
    "initial_prompts",
    "injectivity_bound",
    "injectivity_lower_bound",
    "invertible",
    "length_lower_bound",
    "length_studies",
    "length_study",
    "level_dataset",
    "lookup",
    "lookup_length_bound",
    "lookup_length_search",
    "lookup_model",
    "lookup_prompt",
    "lookup_sharpness",
    "lora_fit",
    "lora_lower_bound",
    "memorize_by_lookup",
    "merged_lookup_prompt",
    "one_token_multiplier",
    "plot_bound_slack",
    "plot_branch_constants",
    "plot_counting_bound",
    "plot_length_study",
    "plot_lookup_lengths",
    "plot_loss_by_length",
    "plot_loss_by_norm",
    "plot_parameters",
    "plot_quantized",
    "plot_rays",
    "plot_smallest_lengths",
    "plots",
    "prompt_lipschitz",
    "prompt_summary",
    "prompt_tune",
    "quantize",
    "quantized",
    "quantized_memorization",
    "ray_bound",
    "ray_geometry",
    "ray_lower_bound",
    "rays",
    "reachable_loss",
    "reachable_prompt",
    "reachable_search",
    "reduced_loss",
    "residual_model",
    "score_direction",
    "single_layer",
    "single_layer_model",
    "single_layer_parts",
    "studies",
    "study_problem",
    "unmemorizable_dataset",
    "with_extra_head",
    "worst_branch_ratios",
    "worst_expansion",
    "worst_prompt_ratio",
]
