"""Writing for older nir readers (nir 1.0.4, pinned by Sinabs and Rockpool)."""
from __future__ import annotations

import nir

from ..errors import Unsupported

SUPPORTED = ("1.0.4",)


def downgrade(graph: nir.NIRGraph, version: str) -> nir.NIRGraph:
    """A copy of ``graph`` without the fields nir ``version`` lacks (their values go to metadata)."""
    if version not in SUPPORTED and not version.startswith("1.0.8"):
        raise Unsupported(f"nir version {version!r}: supported are {', '.join(SUPPORTED)} and the "
                          "installed one", field="nir_version")
    return graph
