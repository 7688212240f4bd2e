"""The bad-input sweep's shared pieces: a case, how it is checked, what must be covered.

Every public function of ``ptheory`` refuses a wrong shape, type or value with a
``ValueError``/``TypeError`` whose message starts with the argument's name. Each part of
the package has its sweep (``tests/test_bad_inputs.py`` for the foundation modules,
``tests/test_<module>_bad_inputs.py`` for the others) built from :class:`Case` and checked
with :func:`check_case`; :func:`public_callables` lists what a sweep must cover.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from types import ModuleType
from typing import NamedTuple

import pytest


class Case(NamedTuple):
    target: str  # the public name under test
    desc: str
    call: Callable[[], object]
    exc: type[Exception]
    name: str  # the argument the message must start with (a regex fragment)


def case_params(cases: list[Case]) -> list:
    """``pytest.param`` objects with readable, unique ids."""
    return [pytest.param(c, id=f"{c.target}-{c.desc.replace(' ', '_')}") for c in cases]


def check_case(case: Case) -> None:
    """The call raises exactly ``case.exc`` and its message starts with ``case.name``."""
    with pytest.raises(case.exc, match=rf"^{case.name}(?![\w(])") as info:
        case.call()
    assert type(info.value) is case.exc  # not a subclass, not a wrapped error


def public_callables(module: ModuleType) -> set[str]:
    """The classes and functions a module exports in ``__all__``."""
    return {
        name
        for name in module.__all__
        if inspect.isclass(getattr(module, name)) or inspect.isfunction(getattr(module, name))
    }
