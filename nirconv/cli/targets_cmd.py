"""`nirconv targets [--json]`: the built-in chip targets and their data files."""
from __future__ import annotations

import click

from .common import echo_json, console


@click.command(name="targets")
@click.option("--json", "as_json", is_flag=True, help="Print JSON: [{name, path, cores, ...}].")
def command(as_json):
    """List the built-in targets. `path` is the target's TOML file: copy it to describe your own
    chip and pass the copy's path as --target."""
    from ..targets import builtins

    rows = [t.summary() for t in builtins()]
    if as_json:
        echo_json(rows)
        return
    from rich.table import Table

    table = Table(title="nirconv targets")
    for col in ("name", "cores", "neurons/core", "weight bits", "state bits", "neurons", "reset",
                "input", "file"):
        table.add_column(col)
    for r in rows:
        table.add_row(r["name"], str(r["cores"]), str(r["neurons_per_core"]), str(r["weight_bits"]),
                      str(r["state_bits"]), ", ".join(r["neuron_models"]),
                      ", ".join(r["reset_modes"]), r["input_encoding"], r["path"])
    console().print(table)
