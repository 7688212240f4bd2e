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
  needed to memorize (valid for any method with ``b``-bit parameters), its covering form
  for real-valued prompts of bounded norm, quantized prompts, and the lookup construction.
* :mod:`~ptheory.capacity.invertible`: Wang et al.'s multi-layer limitation: layers whose
  residual branches are small make ``X -> tau_P(X)`` injective, with a quantitative bound.
* :mod:`~ptheory.capacity.plots`: the part's figures.
"""

from . import (
    adapt,
    counting,
    engine,
    entropy,
    invertible,
    plots,
    rays,
    single_layer,
    studies,
)
from .adapt import FitResult, LoRAResult, fine_tune, lora_fit, lora_lower_bound
from .counting import (
    LookupReport,
    QuantizedReport,
    bump_dataset,
    counting_lower_bound,
    covering_length_bound,
    embed_tokens,
    grid_points_per_coordinate,
    level_dataset,
    lookup_model,
    lookup_prompt,
    lookup_smallest_lengths,
    memorize_by_lookup,
    prompt_lipschitz,
    prompt_lipschitz_ratio,
    quantize,
    quantized_memorization,
    random_smallest_lengths,
    smallest_memorizing_length,
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
    collision_dataset,
    injectivity_bound,
    injectivity_lower_bound,
    min_expansion,
    residual_model,
)
from .plots import (
    plot_bound_slack,
    plot_construction,
    plot_counting_bound,
    plot_length_study,
    plot_loss_by_length,
    plot_loss_by_norm,
    plot_parameters,
    plot_quantized,
    plot_rays,
    plot_smallest_lengths,
)
from .rays import (
    RayBound,
    RayGeometry,
    apex_dataset,
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
    "OneTokenMultiplier",
    "PromptSummary",
    "PromptTuneResult",
    "QuantizedReport",
    "RayBound",
    "RayGeometry",
    "ReachablePoint",
    "adapt",
    "apex_dataset",
    "attention_layer",
    "bump_dataset",
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
    "lookup_model",
    "lookup_prompt",
    "lookup_smallest_lengths",
    "lora_fit",
    "lora_lower_bound",
    "memorize_by_lookup",
    "min_expansion",
    "one_token_multiplier",
    "plot_bound_slack",
    "plot_construction",
    "plot_counting_bound",
    "plot_length_study",
    "plot_loss_by_length",
    "plot_loss_by_norm",
    "plot_parameters",
    "plot_quantized",
    "plot_rays",
    "plot_smallest_lengths",
    "plots",
    "prompt_lipschitz",
    "prompt_lipschitz_ratio",
    "prompt_summary",
    "prompt_tune",
    "quantize",
    "quantized_memorization",
    "random_smallest_lengths",
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
    "smallest_memorizing_length",
    "studies",
    "study_problem",
    "unmemorizable_dataset",
    "with_extra_head",
]
