"""Bad-input sweep of ``ptheory.bench``: its public entry point names what it refuses.

Bad option values are argparse's business (usage and exit status 2, see test_bench.py);
here, a wrong ``argv`` object.
"""

from __future__ import annotations

import pytest

from ptheory import bench

from badinput import Case, case_params, check_case, public_callables

CASES: list[Case] = [
    Case("main", "argv string", lambda: bench.main("--quick"), TypeError, "argv"),
    Case("main", "argv numbers", lambda: bench.main(["--sizes", 64]), TypeError, "argv"),
]


@pytest.mark.parametrize("case", case_params(CASES))
def test_bad_input_names_the_argument(case: Case) -> None:
    check_case(case)


def test_sweep_covers_every_public_callable() -> None:
    assert public_callables(bench) == {c.target for c in CASES} == {"main"}
