"""Bad-input sweep of ``ptheory.real``: every public entry point names what it refuses."""

from __future__ import annotations

import inspect

import pytest
import torch

from ptheory import real

from badinput import Case, case_params, check_case, public_callables

# Records and the error type: they take no input a function did not already check.
RESULT_CLASSES = {"Encoder", "WeightsNotFoundError", "MemorizationTask", "RayData", "TuneResult"}
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
        "tune_prompt", "not a task", lambda: real.tune_prompt(_tiny(), None, 1), TypeError, "task"
    ),
    Case(
        "tune_prompt",
        "zero length",
        lambda: real.tune_prompt(_tiny(), _task(), 0),
        ValueError,
        "prompt_length",
    ),
    Case(
        "tune_prompt",
        "negative lr",
        lambda: real.tune_prompt(_tiny(), _task(), 1, lr=-1.0),
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
