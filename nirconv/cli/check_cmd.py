"""`nirconv check GRAPH.nir --target NAME [--dialect D] [--dt DT] [--calibration X.npy] [--json]`.

Exit 0 when the graph fits, 1 when it does not (every violation listed), 2 on bad input."""
from __future__ import annotations

import click

from .common import console as make_console

from ..errors import DoesNotFit
from .common import echo_json, load_npy, plain


def print_report(report) -> None:
    """A readable table of violations, warnings and resources (rich)."""
    from rich.table import Table
    from rich.text import Text

    from ..backends.constraints.report import jsonable

    console = make_console()
    verdict = Text("fits", style="green") if report.fits else Text("does not fit", style="red")
    console.print(Text.assemble(f"target {plain(report.target)}: ", verdict))
    if report.violations:
        table = Table(title="violations")
        for col in ("node", "rule", "value", "limit"):
            table.add_column(col)
        for v in report.violations:
            table.add_row(v.node, v.rule, str(jsonable(v.value)), str(jsonable(v.limit)))
        console.print(table)
    if report.warnings:
        table = Table(title="warnings")
        for col in ("node", "rule", "message"):
            table.add_column(col)
        for w in report.warnings:
            table.add_row(w.node, w.rule, w.message)
        console.print(table)
    res = jsonable(report.resources)
    table = Table(title="resources")
    table.add_column("resource")
    table.add_column("used / available")
    for key in sorted(res):
        if key.endswith("_available") or isinstance(res[key], (dict, list)):
            continue
        avail = res.get(f"{key}_available", res.get("cores_available") if key == "cores_used"
                        else None)
        table.add_row(key, f"{res[key]}" + ("" if avail is None else f" / {avail}"))
    console.print(table)


@click.command(name="check")
@click.argument("graph", type=click.Path(dir_okay=False))
@click.option("--target", "-t", required=True, help="Built-in target name or a target .toml file.")
@click.option("--dialect", default="auto", show_default=True, help="How to read the NIR file.")
@click.option("--dt", type=float, default=None, help="Time step in seconds (if the graph has none).")
@click.option("--calibration", type=click.Path(dir_okay=False), default=None,
              help="Inputs (.npy) that set the input range used for quantizing.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def command(graph, target, dialect, dt, calibration, as_json):
    """Check whether GRAPH fits TARGET: every violation with node, rule, value and limit."""
    from .. import check
    from ..targets import load

    t = load(target)
    cal = load_npy(calibration, "calibration inputs") if calibration else None
    report = check(graph, target=t, calibration=cal, dialect=dialect, dt=dt)
    if as_json:
        echo_json(report.to_json())
    else:
        print_report(report)
    if not report.fits:  # exit 1 with one line on stderr (the report is on stdout)
        raise DoesNotFit(report.summary(), report=report, file=graph)
