"""The explorer: one figure, one knob, shown live (ipywidgets) or as a static grid.

An :class:`Explorer` holds a drawing function ``draw(value, ax)`` and the values its knob
takes. With a kernel, :meth:`Explorer.widget` shows a slider and redraws the figure when
it moves; in a static page, :meth:`Explorer.static_grid` draws the same panel for every
slider value side by side, so a reader without a kernel sees the whole exploration.
Both paths call the same ``draw``, so they cannot disagree.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from matplotlib.axes import Axes
from matplotlib.figure import Figure

from .._validate import check_int
from ..plotting import new_figure, shared_legend

__all__ = ["Explorer"]


def _format(value: float) -> str:
    return f"{value:g}"


@dataclass(frozen=True)
class Explorer:
    """A figure with one knob.

    Attributes:
        name: what is explored, used as the figure's title.
        parameter: the knob's name as shown on the slider and in panel titles (may hold
            TeX between dollars, e.g. ``"$C$"``).
        values: the values the knob takes, in slider order (at least two).
        draw: ``draw(value, ax)`` draws the panel for one value on ``ax``.
        initial: index into ``values`` of the slider's starting position.
    """

    name: str
    parameter: str
    values: tuple[float, ...]
    draw: Callable[[float, Axes], None]
    initial: int = 0

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise TypeError(f"name must be a non-empty string, got {self.name!r}")
        if not isinstance(self.parameter, str) or not self.parameter:
            raise TypeError(f"parameter must be a non-empty string, got {self.parameter!r}")
        if not callable(self.draw):
            raise TypeError(f"draw must be callable, got {type(self.draw).__name__}")
        values = tuple(self.values)
        if len(values) < 2:
            raise ValueError(f"values must hold at least two slider values, got {len(values)}")
        for v in values:
            if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
                raise ValueError(f"values must be finite numbers, got {v!r}")
        if len(set(values)) != len(values):
            raise ValueError("values must be distinct")
        object.__setattr__(self, "values", tuple(float(v) for v in values))
        check_int(self.initial, "initial", minimum=0)
        if self.initial >= len(values):
            raise ValueError(
                f"initial must index values (0..{len(values) - 1}), got {self.initial}"
            )

    def _check_value(self, value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise TypeError(f"value must be a number, got {type(value).__name__}")
        if float(value) not in self.values:
            raise ValueError(f"value must be one of the slider's values {self.values}, got {value}")
        return float(value)

    def figure(self, value: float) -> Figure:
        """The panel for one slider value, as its own figure."""
        value = self._check_value(value)
        fig, (ax,) = new_figure(width=5.6, height=3.8)
        self.draw(value, ax)
        ax.set_title(f"{self.parameter} = {_format(value)}")
        return fig

    def static_grid(self, values: Sequence[float] | None = None, *, columns: int = 2) -> Figure:
        """Every panel in a grid (``values`` defaults to all of the slider's), for static pages.

        The panels share one legend, below them (:func:`~ptheory.plotting.shared_legend`);
        two columns keep the text legible at a page's width."""
        chosen = self.values if values is None else tuple(self._check_value(v) for v in values)
        if not chosen:
            raise ValueError("values must not be empty")
        check_int(columns, "columns", minimum=1)
        columns = min(columns, len(chosen))
        rows = math.ceil(len(chosen) / columns)
        fig, axes = new_figure(columns, rows, width=3.6 * columns, height=2.9 * rows + 0.4)
        for ax, value in zip(axes, chosen, strict=False):
            self.draw(value, ax)
            ax.set_title(f"{self.parameter} = {_format(value)}")
        for ax in axes[len(chosen) :]:
            ax.set_visible(False)
        shared_legend(fig, axes[: len(chosen)], ncols=4)
        fig.suptitle(self.name)
        return fig

    def png(self, value: float) -> bytes:
        """The panel for one value as PNG bytes (what the live widget shows)."""
        fig = self.figure(value)
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=96)
        return buffer.getvalue()

    def widget(self) -> Any:
        """A live explorer: a slider over ``values`` above the figure, redrawn on release.

        Returns an ``ipywidgets.VBox`` of the slider and an ``ipywidgets.Image``; needs
        ``ipywidgets`` (installed with ``ptheory[book]``) and a running kernel to respond.
        """
        try:
            import ipywidgets
        except ImportError:  # pragma: no cover - ipywidgets ships with the book's extras
            raise ImportError(
                "Explorer.widget needs ipywidgets: pip install ipywidgets "
                "(or use Explorer.static_grid for a static figure)"
            ) from None
        slider = ipywidgets.SelectionSlider(
            options=[(_format(v), v) for v in self.values],
            value=self.values[self.initial],
            description=self.parameter.replace("$", ""),
            continuous_update=False,
            style={"description_width": "initial"},
            layout=ipywidgets.Layout(width="60%"),
        )
        image = ipywidgets.Image(value=self.png(slider.value), format="png")

        def redraw(change: dict) -> None:
            image.value = self.png(change["new"])

        slider.observe(redraw, names="value")
        return ipywidgets.VBox([ipywidgets.HTML(f"<b>{self.name}</b>"), slider, image])
