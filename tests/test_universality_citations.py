"""The Universality part cites the papers' results by content, not by unverified number."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = ["prompt_tuning_model", "prompt_as_index", "contextual_mapping", "universality"]


PART_FILES = [ROOT / "notebooks" / f"{stem}.md" for stem in CHAPTERS] + sorted(
    (ROOT / "ptheory" / "universality").glob("*.py")
)


@pytest.mark.parametrize("path", PART_FILES, ids=lambda p: p.name)
def test_no_unverified_theorem_numbers(path: Path) -> None:
    """Hu et al.'s efficiency results and Wang et al.'s results are cited by content: their
    numbering could not be verified (shared/theory/hu2025.md, wang2023.md)."""
    text = " ".join(path.read_text().split())
    assert not re.search(r"Theorem 3\.\d|Thm\.? 3\.\d", text), path.name
