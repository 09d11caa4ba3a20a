"""`nirconv export` (see ../shared/contract.md)."""
from __future__ import annotations

import click

from ..errors import Unsupported


@click.command(name="export", context_settings={"ignore_unknown_options": True})
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def command(args):
    """(being built)"""
    raise Unsupported("'nirconv export' is not implemented yet")
