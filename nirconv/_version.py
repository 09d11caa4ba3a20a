"""The version of nirconv, in a module of its own so that any layer can read it without importing
the facade (``nirconv/__init__``)."""
__version__ = "0.1.0"
