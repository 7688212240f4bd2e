"""Bad-input sweep of ``ptheory.real``: every public entry point names what it refuses."""

from __future__ import annotations

import inspect
import math
from functools import lru_cache

import pytest
import torch

from ptheory import real

from badinput import Case, case_params, check_case, public_callables

# Records and the error type: they take no input a function did not already check.
RESULT_CLASSES = {"Encoder", "WeightsNotFoundError"}
RESULT_CLASSES |= {"MemorizationTask", "RayData", "TuneResult"}  # memorize
RESULT_CLASSES |= {"Bending", "EncoderRun", "HeadSplit", "SegmentMeasurement"}  # segment
RESULT_CLASSES |= {"HeadCriteria", "HeadRecord", "TunedPrompt"}  # ptheory.real.criterion
# Functions that take no argument at all: nothing to refuse.
NO_INPUT = {"weights_path"}


def _tiny() -> real.Encoder:
    return real.tiny_encoder(0)


def _task() -> real.MemorizationTask:
    return real.memorization_task(_tiny(), 2, length=1, outputs=2)


def _ray() -> real.RayData:
    return real.ray_dataset(_tiny(), 0)


def _E() -> torch.Tensor:
    return real.input_states(_tiny(), torch.ones(2, 3, dtype=torch.long))


CASES = [
    Case("tiny_encoder", "negative seed", lambda: real.tiny_encoder(-1), ValueError, "seed"),
    Case("tiny_encoder", "float seed", lambda: real.tiny_encoder(1.5), TypeError, "seed"),
    Case("tiny_encoder", "no layers", lambda: real.tiny_encoder(layers=0), ValueError, "layers"),
    Case("tiny_encoder", "zero heads", lambda: real.tiny_encoder(heads=0), ValueError, "heads"),
    Case("tiny_encoder", "d not a multiple", lambda: real.tiny_encoder(heads=3), ValueError, "d"),
    Case("tiny_encoder", "float d", lambda: real.tiny_encoder(d=2.5), TypeError, "d"),
    Case(
        "tiny_encoder",
        "tiny vocab",
        lambda: real.tiny_encoder(vocab_size=2),
        ValueError,
        "vocab_size",
    ),
    Case("load_encoder", "unknown device", lambda: real.load_encoder("npu"), ValueError, "device"),
    Case("load_encoder", "int device", lambda: real.load_encoder(0.5), TypeError, "device"),
    # --- ptheory.real.memorize (chapter real_soft_prompts) ---
    Case("input_states", "not an encoder", lambda: real.input_states(1, None), TypeError, "enc"),
    Case(
        "input_states",
        "float ids",
        lambda: real.input_states(_tiny(), torch.ones(2, 3)),
        TypeError,
        "ids",
    ),
    Case(
        "input_states",
        "ids out of range",
        lambda: real.input_states(_tiny(), torch.full((1, 2), 99)),
        ValueError,
        "ids",
    ),
    Case(
        "word_embeddings",
        "zero count",
        lambda: real.word_embeddings(_tiny(), 0),
        ValueError,
        "count",
    ),
    Case(
        "prompted_states",
        "wrong width",
        lambda: real.prompted_states(_tiny(), torch.zeros(2, 3, 5)),
        ValueError,
        "states",
    ),
    Case(
        "prompted_states",
        "prompt width",
        lambda: real.prompted_states(_tiny(), _E(), torch.zeros(1, 5)),
        ValueError,
        "P",
    ),
    Case(
        "prompted_states",
        "too many layers",
        lambda: real.prompted_states(_tiny(), _E(), layers=9),
        ValueError,
        "layers",
    ),
    Case(
        "memorization_task",
        "no sequences",
        lambda: real.memorization_task(_tiny(), 0),
        ValueError,
        "n",
    ),
    Case(
        "memorization_task",
        "negative seed",
        lambda: real.memorization_task(_tiny(), 2, -1),
        ValueError,
        "seed",
    ),
    Case(
        "memorization_task",
        "float length",
        lambda: real.memorization_task(_tiny(), 2, length=1.5),
        TypeError,
        "length",
    ),
    Case(
        "tune_soft_prompt",
        "not a task",
        lambda: real.tune_soft_prompt(_tiny(), None, 1),
        TypeError,
        "task",
    ),
    Case(
        "tune_soft_prompt",
        "zero length",
        lambda: real.tune_soft_prompt(_tiny(), _task(), 0),
        ValueError,
        "prompt_length",
    ),
    Case(
        "tune_soft_prompt",
        "negative lr",
        lambda: real.tune_soft_prompt(_tiny(), _task(), 1, lr=-1.0),
        ValueError,
        "lr",
    ),
    Case(
        "tune_prompts",
        "no tasks",
        lambda: real.tune_prompts(_tiny(), [], 1, lr=[]),
        TypeError,
        "tasks",
    ),
    Case(
        "tune_prompts",
        "rates missing",
        lambda: real.tune_prompts(_tiny(), [_task()], 1, lr=[]),
        TypeError,
        "lr",
    ),
    Case(
        "tune_prompts",
        "negative steps",
        lambda: real.tune_prompts(_tiny(), [_task()], 1, steps=-1, lr=[0.1]),
        ValueError,
        "steps",
    ),
    Case("tune_lora", "zero rank", lambda: real.tune_lora(_tiny(), _task(), 0), ValueError, "rank"),
    Case(
        "tune_lora",
        "first_only not bool",
        lambda: real.tune_lora(_tiny(), _task(), 1, first_only=1),
        TypeError,
        "first_only",
    ),
    Case(
        "tune_layer",
        "layer too deep",
        lambda: real.tune_layer(_tiny(), _task(), 5),
        ValueError,
        "layer",
    ),
    Case(
        "tune",
        "unknown method",
        lambda: real.tune(_tiny(), _task(), "adapter", 1, steps=1, lr=0.1),
        ValueError,
        "method",
    ),
    Case(
        "choose_lr",
        "empty grid",
        lambda: real.choose_lr(_tiny(), _task(), "prompt", 1, [], steps=1),
        TypeError,
        "grid",
    ),
    Case(
        "choose_lr",
        "negative rate",
        lambda: real.choose_lr(_tiny(), _task(), "prompt", 1, [-1.0], steps=1),
        ValueError,
        "grid",
    ),
    Case(
        "compare_methods",
        "no sizes",
        lambda: real.compare_methods(_tiny(), [], [0], [("prompt", 1)], {}, steps=1),
        TypeError,
        "ns",
    ),
    Case(
        "compare_methods",
        "no runs",
        lambda: real.compare_methods(_tiny(), [2], [0], [], {}, steps=1),
        TypeError,
        "runs",
    ),
    Case(
        "compare_methods",
        "rate missing",
        lambda: real.compare_methods(_tiny(), [2], [0], [("prompt", 1)], {}, steps=1),
        ValueError,
        "lrs",
    ),
    Case(
        "head_output",
        "head too large",
        lambda: real.head_output(_tiny(), _E(), head=4),
        ValueError,
        "head",
    ),
    Case(
        "level_output",
        "unknown level",
        lambda: real.level_output(_tiny(), "block", _E()),
        ValueError,
        "level",
    ),
    Case(
        "level_targets",
        "not a dataset",
        lambda: real.level_targets(_tiny(), None, "head"),
        TypeError,
        "data",
    ),
    Case(
        "ray_dataset",
        "zero radius",
        lambda: real.ray_dataset(_tiny(), radius=0.0),
        ValueError,
        "radius",
    ),
    Case(
        "ray_dataset",
        "same_direction not bool",
        lambda: real.ray_dataset(_tiny(), same_direction=1),
        TypeError,
        "same_direction",
    ),
    Case(
        "prompt_dataset",
        "zero prompt",
        lambda: real.prompt_dataset(_tiny(), prompt_length=0),
        ValueError,
        "prompt_length",
    ),
    Case(
        "prompt_dataset",
        "boost a string",
        lambda: real.prompt_dataset(_tiny(), boost="big"),
        TypeError,
        "boost",
    ),
    Case(
        "fit_prompts",
        "no datasets",
        lambda: real.fit_prompts(_tiny(), [], "head", 1),
        TypeError,
        "datasets",
    ),
    Case(
        "fit_prompts",
        "unknown level",
        lambda: real.fit_prompts(_tiny(), [_ray()], "x", 1),
        ValueError,
        "level",
    ),
    Case(
        "no_prompt_loss",
        "unknown level",
        lambda: real.no_prompt_loss(_tiny(), _ray(), "all"),
        ValueError,
        "level",
    ),
    Case("ray_problem", "not a dataset", lambda: real.ray_problem(_tiny(), 3), TypeError, "data"),
]


# ------------------------------------------------------------------ segment (real.segment)
@lru_cache(maxsize=1)
def _seg() -> tuple:
    """A tiny encoder, token ids with padding, a prompt, a prompted and a plain run."""
    enc = real.tiny_encoder(0)
    ids = torch.arange(12).reshape(2, 6) % enc.vocab_size
    mask = torch.tensor([[1] * 6, [1] * 4 + [0] * 2])
    P = real.make_prompt(enc, "random", 2, seed=0)
    prompted, plain = real.run_encoder(enc, ids, mask, P), real.run_encoder(enc, ids, mask)
    return enc, ids, mask, P, prompted, plain


def _run(**kwargs) -> object:
    enc, ids, mask, P, _, _ = _seg()
    args = {"enc": enc, "ids": ids, "mask": mask, "P": P} | kwargs
    return real.run_encoder(**args)


def _split() -> real.HeadSplit:
    enc, _, _, _, prompted, _ = _seg()
    return real.head_split(enc, prompted, 0)


def _valid() -> torch.Tensor:
    return _seg()[4].valid


CASES += [
    Case(
        "tokenize_sentences",
        "not an encoder",
        lambda: real.tokenize_sentences("x"),
        TypeError,
        "enc",
    ),
    Case(
        "tokenize_sentences",
        "a str",
        lambda: real.tokenize_sentences(_seg()[0], "a b"),
        TypeError,
        "sentences",
    ),
    Case(
        "tokenize_sentences",
        "empty",
        lambda: real.tokenize_sentences(_seg()[0], []),
        ValueError,
        "sentences",
    ),
    Case(
        "tokenize_sentences",
        "no tokenizer",
        lambda: real.tokenize_sentences(_seg()[0]),
        ValueError,
        "enc",
    ),
    Case(
        "make_prompt",
        "unknown kind",
        lambda: real.make_prompt(_seg()[0], "noise", 2),
        ValueError,
        "kind",
    ),
    Case(
        "make_prompt",
        "no columns",
        lambda: real.make_prompt(_seg()[0], "words", 0),
        ValueError,
        "length",
    ),
    Case(
        "make_prompt",
        "negative seed",
        lambda: real.make_prompt(_seg()[0], "words", 2, -1),
        ValueError,
        "seed",
    ),
    Case("run_encoder", "float ids", lambda: _run(ids=torch.zeros(2, 6)), TypeError, "ids"),
    Case(
        "run_encoder",
        "flat ids",
        lambda: _run(ids=torch.zeros(6, dtype=torch.int64)),
        ValueError,
        "ids",
    ),
    Case(
        "run_encoder",
        "ids outside the vocabulary",
        lambda: _run(ids=torch.full((2, 6), 10_000)),
        ValueError,
        "ids",
    ),
    Case("run_encoder", "mask a list", lambda: _run(mask=[[1] * 6] * 2), TypeError, "mask"),
    Case("run_encoder", "mask shape", lambda: _run(mask=torch.ones(2, 5)), ValueError, "mask"),
    Case(
        "run_encoder", "mask values", lambda: _run(mask=torch.full((2, 6), 2)), ValueError, "mask"
    ),
    Case("run_encoder", "P rows", lambda: _run(P=torch.zeros(5, 2)), ValueError, "P"),
    Case(
        "run_encoder",
        "P infinite",
        lambda: _run(P=torch.full((32, 2), float("inf"))),
        ValueError,
        "P",
    ),
    Case("run_encoder", "P a str", lambda: _run(P="prompt"), TypeError, "P"),
    Case(
        "run_encoder",
        "negative offset",
        lambda: _run(position_offset=-1),
        ValueError,
        "position_offset",
    ),
    Case(
        "run_encoder",
        "offset past the positions",
        lambda: _run(position_offset=60),
        ValueError,
        "position_offset",
    ),
    Case(
        "run_encoder",
        "prompt_reads_input not bool",
        lambda: _run(prompt_reads_input=1),
        TypeError,
        "prompt_reads_input",
    ),
    Case(
        "head_outputs",
        "not a run",
        lambda: real.head_outputs(_seg()[0], "run", 0),
        TypeError,
        "run",
    ),
    Case(
        "head_outputs",
        "layer too deep",
        lambda: real.head_outputs(_seg()[0], _seg()[4], 2),
        ValueError,
        "layer",
    ),
    Case(
        "head_split",
        "no prompt",
        lambda: real.head_split(_seg()[0], _seg()[5], 0),
        ValueError,
        "run",
    ),
    Case(
        "head_split",
        "negative layer",
        lambda: real.head_split(_seg()[0], _seg()[4], -1),
        ValueError,
        "layer",
    ),
    Case(
        "head_split",
        "use_mask not bool",
        lambda: real.head_split(_seg()[0], _seg()[4], 0, use_mask=None),
        TypeError,
        "use_mask",
    ),
    Case(
        "head_split",
        "value_bias not bool",
        lambda: real.head_split(_seg()[0], _seg()[4], 0, value_bias=0),
        TypeError,
        "value_bias",
    ),
    Case(
        "identity_gap", "not a split", lambda: real.identity_gap(None, _valid()), TypeError, "split"
    ),
    Case(
        "identity_gap",
        "valid not bool",
        lambda: real.identity_gap(_split(), _valid().int()),
        TypeError,
        "valid",
    ),
    Case(
        "identity_gap",
        "valid shape",
        lambda: real.identity_gap(_split(), _valid()[:1]),
        ValueError,
        "valid",
    ),
    Case(
        "identity_gap",
        "weight shape",
        lambda: real.identity_gap(_split(), _valid(), torch.zeros(3, 3)),
        ValueError,
        "weight",
    ),
    Case(
        "measure_segments",
        "prompted without prompt",
        lambda: real.measure_segments(_seg()[0], _seg()[5], _seg()[5]),
        ValueError,
        "prompted",
    ),
    Case(
        "measure_segments",
        "plain with a prompt",
        lambda: real.measure_segments(_seg()[0], _seg()[4], _seg()[4]),
        ValueError,
        "plain",
    ),
    Case(
        "measure_segments",
        "plain of other sentences",
        lambda: real.measure_segments(
            _seg()[0],
            _seg()[4],
            real.run_encoder(_seg()[0], _seg()[1], torch.ones(2, 6, dtype=torch.int64)),
        ),
        ValueError,
        "plain",
    ),
    Case(
        "measure_segments",
        "plain not a run",
        lambda: real.measure_segments(_seg()[0], _seg()[4], None),
        TypeError,
        "plain",
    ),
    Case(
        "measure_bending",
        "no prompt",
        lambda: real.measure_bending(_seg()[0], _seg()[5]),
        ValueError,
        "run",
    ),
    Case(
        "measure_bending",
        "not an encoder",
        lambda: real.measure_bending(None, _seg()[4]),
        TypeError,
        "enc",
    ),
    Case(
        "measure_prompts",
        "unknown kind",
        lambda: real.measure_prompts(_seg()[0], _seg()[1], _seg()[2], kinds=("x",)),
        ValueError,
        "kinds",
    ),
    Case(
        "measure_prompts",
        "seeds a list",
        lambda: real.measure_prompts(_seg()[0], _seg()[1], _seg()[2], seeds=[0]),
        TypeError,
        "seeds",
    ),
    Case(
        "measure_prompts",
        "negative seed",
        lambda: real.measure_prompts(_seg()[0], _seg()[1], _seg()[2], seeds=(-1,)),
        ValueError,
        "seeds",
    ),
    Case(
        "layer_quantiles",
        "valid not bool",
        lambda: real.layer_quantiles(torch.zeros(2, 2, 6), torch.ones(2, 6)),
        TypeError,
        "valid",
    ),
    Case(
        "layer_quantiles",
        "shape",
        lambda: real.layer_quantiles(torch.zeros(2, 2, 5), _valid()),
        ValueError,
        "values",
    ),
    Case(
        "layer_quantiles",
        "q above 1",
        lambda: real.layer_quantiles(torch.zeros(2, 2, 6), _valid(), 1.5),
        ValueError,
        "q",
    ),
    Case("head_median", "empty", lambda: real.head_median([], _valid()), TypeError, "values"),
    Case(
        "head_median",
        "valid not bool",
        lambda: real.head_median([torch.zeros(1, 1, 2, 6)], _valid().int()),
        TypeError,
        "valid",
    ),
    Case(
        "head_median",
        "shape",
        lambda: real.head_median([torch.zeros(1, 2, 6)], _valid()),
        ValueError,
        "values",
    ),
]


# ------------------------------------------------------------ ptheory.real.criterion
def _ids() -> torch.Tensor:
    return real.word_ids(_tiny(), 2, 6)


def _P() -> torch.Tensor:
    return torch.zeros(32, 2)


def _enter(cm) -> None:
    cm.__enter__()


CASES += [
    Case("word_ids", "not an encoder", lambda: real.word_ids("bert", 2, 6), TypeError, "enc"),
    Case("word_ids", "short", lambda: real.word_ids(_tiny(), 2, 2), ValueError, "L"),
    Case("word_ids", "no sequences", lambda: real.word_ids(_tiny(), 0, 6), ValueError, "N"),
    Case(
        "word_ids",
        "negative seed",
        lambda: real.word_ids(_tiny(), 2, 6, seed=-1),
        ValueError,
        "seed",
    ),
    Case("word_prompt", "empty", lambda: real.word_prompt(_tiny(), 0), ValueError, "prompt_length"),
    Case(
        "prompt_forward",
        "rows",
        lambda: real.prompt_forward(_tiny(), torch.zeros(2, 32), _ids()),
        ValueError,
        "P",
    ),
    Case(
        "prompt_forward",
        "float ids",
        lambda: real.prompt_forward(_tiny(), _P(), _ids().float()),
        TypeError,
        "ids",
    ),
    Case(
        "prompt_forward",
        "id past vocab",
        lambda: real.prompt_forward(_tiny(), _P(), _ids() + 64),
        ValueError,
        "ids",
    ),
    Case(
        "prompt_forward",
        "too long",
        lambda: real.prompt_forward(_tiny(), torch.zeros(32, 60), _ids()),
        ValueError,
        "ids",
    ),
    Case(
        "prompt_qkv",
        "nan prompt",
        lambda: real.prompt_qkv(_tiny(), _P() * math.nan, _ids()),
        ValueError,
        "P",
    ),
    Case(
        "prompt_qkv",
        "1-d ids",
        lambda: real.prompt_qkv(_tiny(), _P(), _ids()[0]),
        ValueError,
        "ids",
    ),
    Case(
        "head_criteria",
        "zero eps",
        lambda: real.head_criteria(_tiny(), _P(), _ids(), eps=0.0),
        ValueError,
        "eps",
    ),
    Case(
        "head_criteria",
        "bad method",
        lambda: real.head_criteria(_tiny(), _P(), _ids(), method="pade"),
        ValueError,
        "method",
    ),
    Case("layernorm_cap", "not an encoder", lambda: real.layernorm_cap(None), TypeError, "enc"),
    Case("cap_prompt", "not an encoder", lambda: real.cap_prompt(None), TypeError, "enc"),
    Case(
        "cap_prompt", "zero scale", lambda: real.cap_prompt(_tiny(), scale=0.0), ValueError, "scale"
    ),
    Case(
        "cap_prompt",
        "nan scale",
        lambda: real.cap_prompt(_tiny(), scale=math.nan),
        ValueError,
        "scale",
    ),
    Case(
        "tune_prompt",
        "bad labels",
        lambda: real.tune_prompt(_tiny(), _ids(), torch.tensor([0, 2])),
        ValueError,
        "labels",
    ),
    Case(
        "tune_prompt",
        "zero lr",
        lambda: real.tune_prompt(_tiny(), _ids(), torch.tensor([0, 1]), lr=0.0),
        ValueError,
        "lr",
    ),
    Case(
        "tune_prompt",
        "negative steps",
        lambda: real.tune_prompt(_tiny(), _ids(), torch.tensor([0, 1]), steps=-1),
        ValueError,
        "steps",
    ),
    Case(
        "substituted_attention",
        "list plan",
        lambda: _enter(real.substituted_attention(_tiny(), [(0, 0)])),
        TypeError,
        "plan",
    ),
    Case(
        "substituted_attention",
        "head past range",
        lambda: _enter(real.substituted_attention(_tiny(), {(0, 9): 1})),
        ValueError,
        "plan",
    ),
    Case(
        "substituted_attention",
        "degree past 64",
        lambda: _enter(real.substituted_attention(_tiny(), {(0, 0): 65})),
        ValueError,
        "plan",
    ),
    Case(
        "substituted_attention",
        "bad method",
        lambda: _enter(real.substituted_attention(_tiny(), {}, method="x")),
        ValueError,
        "method",
    ),
    Case(
        "substituted_attention",
        "record dict",
        lambda: _enter(real.substituted_attention(_tiny(), {}, record={})),
        TypeError,
        "record",
    ),
    Case(
        "cooled_head",
        "layer past range",
        lambda: _enter(real.cooled_head(_tiny(), 5, 0, 0.5)),
        ValueError,
        "layer",
    ),
    Case(
        "cooled_head",
        "zero factor",
        lambda: _enter(real.cooled_head(_tiny(), 0, 0, 0.0)),
        ValueError,
        "factor",
    ),
    Case(
        "cooled_head",
        "float head",
        lambda: _enter(real.cooled_head(_tiny(), 0, 1.5, 0.5)),
        TypeError,
        "head",
    ),
    Case(
        "readout_kl",
        "shapes differ",
        lambda: real.readout_kl(_tiny(), torch.zeros(1, 4, 32), torch.zeros(1, 3, 32)),
        ValueError,
        "changed",
    ),
    Case(
        "readout_kl",
        "wrong width",
        lambda: real.readout_kl(_tiny(), torch.zeros(1, 4, 8), torch.zeros(1, 4, 8)),
        ValueError,
        "reference",
    ),
    Case(
        "readout_kl",
        "start past end",
        lambda: real.readout_kl(_tiny(), torch.zeros(1, 4, 32), torch.zeros(1, 4, 32), start=4),
        ValueError,
        "start",
    ),
    Case("plot_head_bounds", "empty", lambda: real.plot_head_bounds({}, [16]), TypeError, "bounds"),
    Case(
        "plot_head_bounds",
        "1-d",
        lambda: real.plot_head_bounds({"a": torch.ones(3)}, [16]),
        ValueError,
        "bounds",
    ),
    Case(
        "plot_head_bounds",
        "n = 1",
        lambda: real.plot_head_bounds({"a": torch.ones(2, 3)}, [1]),
        ValueError,
        "lengths",
    ),
    Case(
        "plot_head_bounds",
        "cap shape",
        lambda: real.plot_head_bounds({"a": torch.ones(2, 3)}, [16], cap=torch.ones(3, 2)),
        ValueError,
        "cap",
    ),
    Case(
        "plot_substitution",
        "no errors",
        lambda: real.plot_substitution([0], {}, {}),
        TypeError,
        "errors",
    ),
    Case(
        "plot_substitution",
        "negative degree",
        lambda: real.plot_substitution([-1], {"h": [1.0]}, {}),
        ValueError,
        "degrees",
    ),
    Case(
        "plot_substitution",
        "short errors",
        lambda: real.plot_substitution([0, 1], {"h": [1.0]}, {"h": 1.0}),
        ValueError,
        "errors",
    ),
    Case(
        "plot_substitution",
        "trivial missing a label",
        lambda: real.plot_substitution([0], {"h": [1.0]}, {}),
        TypeError,
        "trivial",
    ),
    Case(
        "plot_substitution",
        "zero trivial",
        lambda: real.plot_substitution([0], {"h": [1.0]}, {"h": 0.0}),
        ValueError,
        "trivial",
    ),
]
# ------------------------------------------------------------ end ptheory.real.criterion


@pytest.mark.parametrize("case", case_params(CASES))
def test_bad_input_names_the_argument(case: Case) -> None:
    check_case(case)


def test_sweep_covers_every_public_callable() -> None:
    covered = {c.target for c in CASES}
    missing = public_callables(real) - covered - RESULT_CLASSES - NO_INPUT
    for name in NO_INPUT:
        assert not inspect.signature(getattr(real, name)).parameters, name
    assert not missing, f"no bad-input case for {sorted(missing)}"
    assert RESULT_CLASSES <= public_callables(real)


def test_case_ids_are_unique() -> None:
    ids = [(c.target, c.desc) for c in CASES]
    assert len(ids) == len(set(ids))


def test_encoder_tokenize_refuses_bad_texts_by_name() -> None:
    enc = real.load_encoder()
    check_case(Case("tokenize", "a str", lambda: enc.tokenize("x"), TypeError, "texts"))
    check_case(Case("tokenize", "empty", lambda: enc.tokenize([]), TypeError, "texts"))
    check_case(Case("tokenize", "short", lambda: enc.tokenize(["x"], 1), ValueError, "length"))
    check_case(Case("tokenize", "tiny", lambda: _tiny().tokenize(["x"]), ValueError, "texts"))


def test_names_match_real_parameters() -> None:
    for c in CASES:
        params = inspect.signature(getattr(real, c.target)).parameters
        assert c.name in params, (c.target, c.name)
