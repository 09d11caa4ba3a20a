"""`nirconv audit` (see ../shared/contract.md)."""
from __future__ import annotations

import click

from ..errors import Unsupported


@click.command(name="audit", context_settings={"ignore_unknown_options": True})
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def command(args):
    """(being built)"""
    raise Unsupported("'nirconv audit' is not implemented yet")
