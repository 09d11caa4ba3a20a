"""NIR files in and out: atomic save, robust load, metadata, peers' dialects, vendor formats."""
from .files import load, normalize, save

__all__ = ["load", "normalize", "save"]
