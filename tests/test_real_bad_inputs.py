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
RESULT_CLASSES |= {"Encoded", "Prefix"}  # prompted: a Prefix's checks are encode's
RESULT_CLASSES |= {"MemorizationTask", "RayData", "TuneResult"}  # memorize
RESULT_CLASSES |= {"Bending", "HeadSplit", "SegmentMeasurement"}  # segment
RESULT_CLASSES |= {"HeadCriteria", "HeadRecord", "TunedPrompt"}  # ptheory.real.criterion
# Functions that take no argument at all: nothing to refuse.
NO_INPUT = {"weights_path"}


def _tiny() -> real.Encoder:
    return real.tiny_encoder(0)


def _task() -> real.MemorizationTask:
    return real.memorization_task(_tiny(), 2, words=1, outputs=2)


def _ray() -> real.RayData:
    return real.ray_dataset(_tiny(), 0)


def _pair() -> torch.Tensor:
    return _ray().ids


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
    Case(
        "load_encoder",
        "float16",
        lambda: real.load_encoder(dtype=torch.float16),
        ValueError,
        "dtype",
    ),
    # --- ptheory.real.prompted (the one prompted encoder) ---
    Case("word_tokens", "not an encoder", lambda: real.word_tokens(None), TypeError, "enc"),
    Case("word_prompt", "zero length", lambda: real.word_prompt(_tiny(), 0), ValueError, "length"),
    Case(
        "word_prompt",
        "prefix placement",
        lambda: real.word_prompt(_tiny(), 1, placement="prefix"),
        ValueError,
        "placement",
    ),
    Case(
        "random_prompt",
        "float seed",
        lambda: real.random_prompt(_tiny(), 1, seed=0.5),
        TypeError,
        "seed",
    ),
    Case("word_prefix", "zero length", lambda: real.word_prefix(_tiny(), 0), ValueError, "length"),
    Case("encode", "not an encoder", lambda: real.encode(3, _ids()), TypeError, "enc"),
    Case("encode", "float ids", lambda: real.encode(_tiny(), torch.ones(2, 3)), TypeError, "ids"),
    Case(
        "encode",
        "ids out of range",
        lambda: real.encode(_tiny(), torch.full((1, 2), 99)),
        ValueError,
        "ids",
    ),
    Case(
        "encode",
        "unknown placement",
        lambda: real.encode(_tiny(), _ids(), placement="suffix"),
        ValueError,
        "placement",
    ),
    Case(
        "encode",
        "prompt width",
        lambda: real.encode(_tiny(), _ids(), torch.zeros(5, 1)),
        ValueError,
        "prompt",
    ),
    Case(
        "encode",
        "prompt with NaN",
        lambda: real.encode(_tiny(), _ids(), torch.full((32, 1), math.nan)),
        ValueError,
        "prompt",
    ),
    Case(
        "encode",
        "soft prompt as a prefix",
        lambda: real.encode(_tiny(), _ids(), torch.zeros(32, 1), placement="prefix"),
        TypeError,
        "placement",
    ),
    Case(
        "encode",
        "prefix at the input",
        lambda: real.encode(_tiny(), _ids(), real.word_prefix(_tiny(), 1)),
        ValueError,
        "prompt",
    ),
    Case(
        "encode",
        "prefix keys of the wrong shape",
        lambda: real.encode(
            _tiny(),
            _ids(),
            real.Prefix(torch.zeros(3, 4, 8, 1), torch.zeros(3, 4, 8, 1)),
            placement="prefix",
        ),
        ValueError,
        "prompt",
    ),
    Case(
        "encode",
        "mask of another shape",
        lambda: real.encode(_tiny(), _ids(), mask=torch.ones(2, 4)),
        ValueError,
        "mask",
    ),
    Case(
        "encode",
        "mask hides the first token",
        lambda: real.encode(_tiny(), _ids(), mask=torch.tensor([[0, 1, 1], [1, 1, 1]])),
        ValueError,
        "mask",
    ),
    Case(
        "encode",
        "positions past the model's",
        lambda: real.encode(_tiny(), _ids(), position_offset=62),
        ValueError,
        "position_offset",
    ),
    Case(
        "encode",
        "too many layers",
        lambda: real.encode(_tiny(), _ids(), layers=9),
        ValueError,
        "layers",
    ),
    Case(
        "encode",
        "one block too few",
        lambda: real.encode(_tiny(), _ids(), blocks=[_tiny().model.encoder.layer[0]]),
        ValueError,
        "blocks",
    ),
    Case(
        "encode",
        "head out of range",
        lambda: real.encode(_tiny(), _ids(), heads={(0, 9): lambda *a: a[0]}),
        ValueError,
        "heads",
    ),
    Case(
        "encode",
        "cls_offsets of the wrong shape",
        lambda: real.encode(_tiny(), _ids(), cls_offsets=torch.zeros(2, 5)),
        ValueError,
        "cls_offsets",
    ),
    Case(
        "encode",
        "record not bool",
        lambda: real.encode(_tiny(), _ids(), record=1),
        TypeError,
        "record",
    ),
    # --- ptheory.real.memorize (chapter real_soft_prompts) ---
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
        "float words",
        lambda: real.memorization_task(_tiny(), 2, words=1.5),
        TypeError,
        "words",
    ),
    Case(
        "memorization_task",
        "unknown columns",
        lambda: real.memorization_task(_tiny(), 2, columns="sep"),
        ValueError,
        "columns",
    ),
    Case(
        "memorization_task",
        "zero scale",
        lambda: real.memorization_task(_tiny(), 2, scale=0.0),
        ValueError,
        "scale",
    ),
    Case(
        "tune",
        "unknown method",
        lambda: real.tune(_tiny(), _task(), "adapter", 1, steps=1),
        ValueError,
        "method",
    ),
    Case("tune", "not a task", lambda: real.tune(_tiny(), None, "prompt", 1), TypeError, "task"),
    Case(
        "tune",
        "zero size",
        lambda: real.tune(_tiny(), _task(), "prompt", 0, steps=1),
        ValueError,
        "size",
    ),
    Case(
        "tune",
        "unknown optimizer",
        lambda: real.tune(_tiny(), _task(), "prompt", 1, optimizer="sgd"),
        ValueError,
        "optimizer",
    ),
    Case(
        "tune",
        "adam without a rate",
        lambda: real.tune(_tiny(), _task(), "prompt", 1, optimizer="adam", steps=1),
        TypeError,
        "lr",
    ),
    Case(
        "tune",
        "a rate for L-BFGS",
        lambda: real.tune(_tiny(), _task(), "prompt", 1, steps=1, lr=0.1),
        ValueError,
        "lr",
    ),
    Case(
        "tune",
        "zero steps",
        lambda: real.tune(_tiny(), _task(), "prompt", 1, steps=0),
        ValueError,
        "steps",
    ),
    Case(
        "method_parameters",
        "unknown method",
        lambda: real.method_parameters(_tiny(), "adapter", 1),
        ValueError,
        "method",
    ),
    Case(
        "method_parameters",
        "zero size",
        lambda: real.method_parameters(_tiny(), "lora", 0),
        ValueError,
        "size",
    ),
    Case(
        "head_output",
        "head too large",
        lambda: real.head_output(_tiny(), _pair(), head=4),
        ValueError,
        "head",
    ),
    Case(
        "head_output",
        "not three tokens",
        lambda: real.head_output(_tiny(), _ids()[:, :2]),
        ValueError,
        "ids",
    ),
    Case(
        "level_output",
        "unknown level",
        lambda: real.level_output(_tiny(), "block", _pair()),
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
        "fit_prompts",
        "unknown kind",
        lambda: real.fit_prompts(_tiny(), [_ray()], "head", 1, kind="adapter"),
        ValueError,
        "kind",
    ),
    Case(
        "fit_prompts",
        "unknown optimizer",
        lambda: real.fit_prompts(_tiny(), [_ray()], "head", 1, optimizer="sgd"),
        ValueError,
        "optimizer",
    ),
    Case(
        "prompt_dataset",
        "unknown kind",
        lambda: real.prompt_dataset(_tiny(), kind="adapter"),
        ValueError,
        "kind",
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
    prompted = real.encode(enc, ids, P, mask=mask, record=True)
    plain = real.encode(enc, ids, mask=mask, record=True)
    return enc, ids, mask, P, prompted, plain


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
            real.encode(
                _seg()[0], _seg()[1], mask=torch.ones(2, 6, dtype=torch.int64), record=True
            ),
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
        "no prompts",
        lambda: real.measure_prompts(_seg()[0], _seg()[1], _seg()[2], {}),
        TypeError,
        "prompts",
    ),
    Case(
        "measure_prompts",
        "prompts a list",
        lambda: real.measure_prompts(_seg()[0], _seg()[1], _seg()[2], [_seg()[3]]),
        TypeError,
        "prompts",
    ),
    Case(
        "measure_segments",
        "a run without records",
        lambda: real.measure_segments(_seg()[0], real.encode(_seg()[0], _seg()[1]), _seg()[5]),
        ValueError,
        "prompted",
    ),
    Case(
        "tune_on_sentences",
        "unknown kind",
        lambda: real.tune_on_sentences(_seg()[0], _seg()[1], _seg()[2], kind="lora"),
        ValueError,
        "kind",
    ),
    Case(
        "tune_on_sentences",
        "negative steps",
        lambda: real.tune_on_sentences(_seg()[0], _seg()[1], _seg()[2], steps=-1),
        ValueError,
        "steps",
    ),
    Case(
        "tune_on_sentences",
        "zero rate",
        lambda: real.tune_on_sentences(_seg()[0], _seg()[1], _seg()[2], lr=0.0),
        ValueError,
        "lr",
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
    Case(
        "substitution",
        "plan a list",
        lambda: real.substitution(_tiny(), [(0, 0)]),
        TypeError,
        "plan",
    ),
    Case(
        "substitution",
        "head past range",
        lambda: real.substitution(_tiny(), {(0, 9): 1}),
        ValueError,
        "plan",
    ),
    Case(
        "substitution",
        "negative degree",
        lambda: real.substitution(_tiny(), {(0, 0): -1}),
        ValueError,
        "plan",
    ),
    Case(
        "substitution",
        "record a tuple",
        lambda: real.substitution(_tiny(), {(0, 0): 1}, record=()),
        TypeError,
        "record",
    ),
    Case(
        "head_criteria",
        "prefix placement",
        lambda: real.head_criteria(_tiny(), _P(), _ids(), placement="prefix"),
        ValueError,
        "placement",
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
