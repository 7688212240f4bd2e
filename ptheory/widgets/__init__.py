"""Live explorers of the book's theorems, with a static rendering for pages without a kernel.

Each part of the book has at least one :class:`Explorer`: a figure with one knob (the
accuracy, the prompt length, a norm bound). ``explorer.widget()`` is the live version
(ipywidgets, in JupyterLab or Colab); ``explorer.static_grid()`` draws the panel for every
knob value side by side, which is what the HTML book shows.

Modules: ``universality``, ``capacity``, ``efficiency`` hold each part's explorers;
``_core`` holds :class:`Explorer`.
"""

from . import capacity, efficiency, universality
from ._core import Explorer
from .capacity import *  # noqa: F403
from .efficiency import *  # noqa: F403
from .universality import *  # noqa: F403

__all__ = ["Explorer", *universality.__all__, *capacity.__all__, *efficiency.__all__]
