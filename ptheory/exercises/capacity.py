"""Checks for the exercises of the Capacity chapters (memorization_capacity,
unmemorizable_dataset, prompt_vs_lora, invertible_layers)."""

from __future__ import annotations

__all__: list[str] = []
