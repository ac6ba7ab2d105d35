"""The ``ptycho-engine`` command line (generated from the schema, see ``common``)."""

from .main import main

__all__ = ["main"]
