"""Quantization: a float `Program` and a `Target` -> the integer `Program` of the target's
arithmetic family, as a list of passes (docs/equations/targets.md, "Quantization").

    int_program = quantize(float_program, target, InputRange(max_abs=..., min=..., events=...))

``passes.py`` holds the passes (fold_scales -> switches -> decays -> input_encoding -> scales ->
weights -> neurons -> stamp) with their pre- and postconditions; ``families/`` one module per
arithmetic family (speck, xylo, generic, loihi2, spinnaker2), registered by the target's
``chip.family``. Reading a graph, checking the fit and writing the deployed graph are the
caller's (``nirconv.deploy``).
"""
from __future__ import annotations

from .families import FAMILIES, Family, family_of
from .fold import fold_scales
from .passes import PASSES, quantize
from .state import InputRange

__all__ = ["FAMILIES", "Family", "InputRange", "PASSES", "family_of", "fold_scales", "quantize"]
