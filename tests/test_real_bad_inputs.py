"""Bad-input sweep of ``ptheory.real``: every public entry point names what it refuses."""

from __future__ import annotations

import inspect

import pytest

from ptheory import real

from badinput import Case, case_params, check_case, public_callables

# Records and the error type: they take no input a function did not already check.
RESULT_CLASSES = {"Encoder", "WeightsNotFoundError"}
# Functions that take no argument at all: nothing to refuse.
NO_INPUT = {"weights_path"}


def _tiny() -> real.Encoder:
    return real.tiny_encoder(0)


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
