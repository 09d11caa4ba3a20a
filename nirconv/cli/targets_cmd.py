"""`nirconv targets` (see ../shared/contract.md)."""
from __future__ import annotations

import click

from ..errors import Unsupported


@click.command(name="targets", context_settings={"ignore_unknown_options": True})
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def command(args):
    """(being built)"""
    raise Unsupported("'nirconv targets' is not implemented yet")
