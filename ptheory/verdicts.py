"""Verdict tables: a chapter's checks as a short table a reader can read.

A chapter states a result, measures it, and shows the measurement against the threshold
the result predicts. It also runs the same check on a *wrong* answer (a control) and
shows the check rejecting it. :class:`Verdicts` collects both kinds of row and displays
them as one table with the columns *claim · measured · threshold · verdict*::

    checks = Verdicts("The segment lemma on 2,000 random layers")
    checks.claim("output = λa + (1 − λ)b", identity_error, below=1e-10, floor=1e-12)
    checks.control("weight L_p/(L_p + L) in place of λ", wrong_error, below=1e-10)
    checks  # the table

Every row is judged when it is added, and a row that goes the wrong way raises
:class:`CheckFailed` at once: a claim whose measurement misses its threshold, or a
control whose wrong answer *meets* it (a check that cannot tell a wrong answer from a
right one proves nothing). So a chapter that displays a verdict table cannot build if
one of its claims is false.

Measurements are shown to three significant digits by default. A measurement that is
rounding noise (a float64 identity error, say) changes with the machine and the thread
count; give it a ``floor`` and the table shows "< floor" instead of its digits, so the
page reads the same on every machine.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from html import escape
from numbers import Real
from typing import Literal

__all__ = ["CheckFailed", "Row", "Verdicts"]

Kind = Literal["claim", "control"]


class CheckFailed(AssertionError):
    """A claim missed its threshold, or a control's wrong answer met it."""


@dataclass(frozen=True)
class Row:
    """One row of a verdict table."""

    kind: Kind
    """``"claim"``: must meet the threshold; ``"control"``: a wrong answer that must not."""
    claim: str
    measured: str
    """The measurement as shown (already formatted)."""
    threshold: str
    """The condition as shown, e.g. ``"< 1e-10"``."""
    met: bool
    """Whether the measurement meets the threshold."""

    @property
    def ok(self) -> bool:
        """A claim that holds, or a control that is rejected."""
        return self.met if self.kind == "claim" else not self.met

    @property
    def verdict(self) -> str:
        if self.kind == "claim":
            return "holds" if self.met else "FAILS"
        return "rejected" if not self.met else "ACCEPTED"


def _number(value: object, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, Real):
        # one-element tensors and NumPy scalars
        item = getattr(value, "item", None)
        if item is None:
            raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
        value = item()
        if isinstance(value, bool) or not isinstance(value, Real):
            raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
    value = float(value)
    if math.isnan(value):
        raise ValueError(f"{name} is NaN: a check cannot judge it")
    return value


def _fmt(value: float, digits: int) -> str:
    if math.isinf(value):
        return "∞" if value > 0 else "−∞"
    if value == int(value) and abs(value) < 10**digits:
        return f"{int(value):,}"
    text = f"{value:.{digits}g}"
    if "e" in text:
        mantissa, exponent = text.split("e")
        exponent = str(int(exponent))
        text = f"{mantissa}e{exponent}"
    return text


class Verdicts:
    """A table of checks: claims that must hold and controls that must be rejected.

    ``title`` names what is checked (shown above the table). Add rows with
    :meth:`claim` and :meth:`control`; each raises :class:`CheckFailed` at once when the
    row goes the wrong way. Display the object (the last line of a cell) to show the
    table; ``str(verdicts)`` is the same table as plain text.
    """

    def __init__(self, title: str = "") -> None:
        if not isinstance(title, str):
            raise TypeError(f"title must be a string, got {type(title).__name__}")
        self.title = title
        self.rows: list[Row] = []

    # ------------------------------------------------------------------ adding rows
    def claim(
        self,
        claim: str,
        measured: object,
        *,
        below: float | None = None,
        at_most: float | None = None,
        above: float | None = None,
        at_least: float | None = None,
        within: tuple[float, float] | None = None,
        equals: float | None = None,
        expect: bool | None = None,
        floor: float | None = None,
        digits: int = 3,
        unit: str = "",
    ) -> Verdicts:
        """Add a claim: ``measured`` must meet the one threshold given.

        Thresholds: ``below`` (<), ``at_most`` (<=), ``above`` (>), ``at_least`` (>=),
        ``within=(lo, hi)`` (lo <= x <= hi), ``equals`` (==), or ``expect`` for a
        yes/no measurement (``measured`` a bool). ``floor``: show measurements below it
        (in absolute value) as "< floor"; ``digits``: significant digits shown;
        ``unit``: appended to the measurement and the threshold. Returns ``self``.
        """
        self._add("claim", claim, measured, below, at_most, above, at_least, within,
                  equals, expect, floor, digits, unit)  # fmt: skip
        return self

    def control(
        self,
        claim: str,
        measured: object,
        *,
        below: float | None = None,
        at_most: float | None = None,
        above: float | None = None,
        at_least: float | None = None,
        within: tuple[float, float] | None = None,
        equals: float | None = None,
        expect: bool | None = None,
        floor: float | None = None,
        digits: int = 3,
        unit: str = "",
    ) -> Verdicts:
        """Add a control: the same check run on a wrong answer, which must *fail* it.

        ``claim`` names the wrong answer (e.g. "wrong weight L_p/(L_p + L)"); the
        threshold is the one the right answer meets. Same arguments as :meth:`claim`.
        """
        self._add("control", claim, measured, below, at_most, above, at_least, within,
                  equals, expect, floor, digits, unit)  # fmt: skip
        return self

    def _add(
        self,
        kind: Kind,
        claim: str,
        measured: object,
        below: float | None,
        at_most: float | None,
        above: float | None,
        at_least: float | None,
        within: tuple[float, float] | None,
        equals: float | None,
        expect: bool | None,
        floor: float | None,
        digits: int,
        unit: str,
    ) -> None:
        if not isinstance(claim, str) or not claim.strip():
            raise TypeError("claim must be a non-empty string saying what is checked")
        if isinstance(digits, bool) or not isinstance(digits, int) or not 1 <= digits <= 17:
            raise ValueError(f"digits must be an integer from 1 to 17, got {digits!r}")
        if not isinstance(unit, str):
            raise TypeError(f"unit must be a string, got {type(unit).__name__}")
        given = {
            "below": below,
            "at_most": at_most,
            "above": above,
            "at_least": at_least,
            "within": within,
            "equals": equals,
            "expect": expect,
        }
        chosen = [(k, v) for k, v in given.items() if v is not None]
        if len(chosen) != 1:
            names = ", ".join(given)
            raise ValueError(f"threshold: give exactly one of {names}; got {len(chosen)}")
        how, limit = chosen[0]
        suffix = f" {unit}" if unit else ""

        if how == "expect":
            if not isinstance(limit, bool):
                raise TypeError(f"expect must be True or False, got {type(limit).__name__}")
            value = getattr(measured, "item", lambda: measured)()
            if not isinstance(value, bool):
                raise TypeError(
                    f"measured must be a bool when expect is given, got {type(value).__name__}"
                )
            met = value is limit
            shown = "yes" if value else "no"
            threshold = "yes" if limit else "no"
        else:
            value = _number(measured, "measured")
            if floor is not None:
                floor = _number(floor, "floor")
                if floor <= 0:
                    raise ValueError(f"floor must be positive, got {floor}")
            if how == "within":
                if not isinstance(limit, tuple) or len(limit) != 2:
                    raise TypeError("within must be a pair (lo, hi)")
                lo, hi = _number(limit[0], "within[0]"), _number(limit[1], "within[1]")
                if lo > hi:
                    raise ValueError(f"within must have lo <= hi, got ({lo}, {hi})")
                met = lo <= value <= hi
                threshold = f"in [{_fmt(lo, digits)}, {_fmt(hi, digits)}]"
            else:
                bound = _number(limit, how)
                op, test = {
                    "below": ("<", value < bound),
                    "at_most": ("≤", value <= bound),
                    "above": (">", value > bound),
                    "at_least": ("≥", value >= bound),
                    "equals": ("=", value == bound),
                }[how]
                met = bool(test)
                threshold = f"{op} {_fmt(bound, digits)}"
            if floor is not None and abs(value) < floor:
                shown = f"< {_fmt(floor, 1)}"
            else:
                shown = _fmt(value, digits)
            threshold += suffix
            shown += suffix

        row = Row(kind, claim.strip(), shown, threshold, met)
        self.rows.append(row)
        if not row.ok:
            where = f" ({self.title})" if self.title else ""
            if kind == "claim":
                raise CheckFailed(
                    f"claim fails{where}: {row.claim}: measured {shown}, needs {threshold}"
                )
            raise CheckFailed(
                f"control accepted{where}: the wrong answer '{row.claim}' meets the "
                f"threshold ({shown}, {threshold}), so the check cannot tell it apart"
            )

    # ------------------------------------------------------------------ reading
    @property
    def passed(self) -> bool:
        """Every claim holds and every control is rejected (always true once built)."""
        return all(row.ok for row in self.rows)

    def __len__(self) -> int:
        return len(self.rows)

    def _cells(self) -> list[tuple[str, str, str, str]]:
        out = []
        for row in self.rows:
            name = row.claim if row.kind == "claim" else f"control: {row.claim}"
            out.append((name, row.measured, row.threshold, row.verdict))
        return out

    def __str__(self) -> str:
        head = ("claim", "measured", "threshold", "verdict")
        cells = [head, *self._cells()]
        widths = [max(len(c[i]) for c in cells) for i in range(4)]
        lines = [self.title] if self.title else []
        for k, c in enumerate(cells):
            lines.append("  ".join(c[i].ljust(widths[i]) for i in range(4)).rstrip())
            if k == 0:
                lines.append("  ".join("-" * w for w in widths))
        return "\n".join(lines)

    def __repr__(self) -> str:
        return str(self)

    def _repr_markdown_(self) -> str:
        """A Markdown table (the PDF edition renders this one)."""

        def cell(text: str) -> str:
            return text.replace("|", "\\|").replace("*", "\\*")

        lines = [f"**Checks: {cell(self.title)}**", ""] if self.title else []
        lines += ["| claim | measured | threshold | verdict |", "| --- | --- | --- | --- |"]
        for c in self._cells():
            lines.append("| " + " | ".join(cell(x) for x in c) + " |")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        rows = []
        for row, c in zip(self.rows, self._cells(), strict=True):
            mark = "✓ " if row.ok else "✗ "
            cls = "ptheory-verdict-control" if row.kind == "control" else "ptheory-verdict-claim"
            rows.append(
                f'<tr class="{cls}"><td>{escape(c[0])}</td><td>{escape(c[1])}</td>'
                f"<td>{escape(c[2])}</td><td>{mark}{escape(c[3])}</td></tr>"
            )
        caption = f"<caption>Checks: {escape(self.title)}</caption>" if self.title else ""
        return (
            '<table class="ptheory-verdicts">'
            f"{caption}<thead><tr><th>claim</th><th>measured</th><th>threshold</th>"
            f"<th>verdict</th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
        )
