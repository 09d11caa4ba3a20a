"""`nirconv demo [--out DIR] [--target NAME]`: the whole pipeline on the embedded default."""
from __future__ import annotations

import click

from .common import console as make_console


@click.command(name="demo")
@click.option("--out", "out", default="nirconv-demo", show_default=True, type=click.Path(),
              help="Folder for snn.nir, deployed_<target>.nir, report.json, report.html.")
@click.option("--target", default="speck", show_default=True,
              help="Target to export and audit for (built-in name or a target TOML file).")
@click.option("--no-progress", is_flag=True, help="No progress bars.")
def command(out, target, no_progress):
    """Train a small CNN on scikit-learn digits, convert, check every target, export, audit."""
    from rich.table import Table

    from ..demo import run_demo

    console = make_console()
    run = run_demo(out, target, progress=not no_progress, echo=console.print)
    rep = run.report
    conv = rep["conversion"]
    t = Table(title="Conversion (float SNN, constant-current input)")
    for h in ("network", "T", "accuracy %", "spikes / sample"):
        t.add_column(h, justify="right")
    t.add_row("ANN", "", f"{100 * conv['ann_accuracy']:.2f}", "")
    for r in conv["rows"]:
        t.add_row("float SNN", str(r["timesteps"]), f"{100 * r['snn_accuracy']:.2f}",
                  f"{r['spikes_per_sample']:.0f}")
    console.print(t)
    t = Table(title="Fit per target")
    for h in ("target", "fits", "cores used", "neurons", "synapses", "first violation"):
        t.add_column(h)
    for r in rep["targets"]:
        res = r["resources"]
        first = r["violations"][0] if r["violations"] else None
        t.add_row(r["target"], "yes" if r["fits"] else "no",
                  f"{res.get('cores_used')}/{res.get('cores_available')}",
                  str(res.get("neurons")), str(res.get("synapses")),
                  f"{first['node']}: {first['rule']} ({first['value']} > {first['limit']})"
                  if first else "")
    console.print(t)
    a = rep["audit"]
    t = Table(title=f"Audit: deployed on {run.target} vs float SNN (T={a['timesteps']})")
    for h in ("ANN %", "float SNN %", "deployed %", "passed"):
        t.add_column(h, justify="right")
    t.add_row(f"{100 * a['ann_accuracy']:.2f}", f"{100 * a['snn_accuracy']:.2f}",
              f"{100 * a['deployed_accuracy']:.2f}", "yes" if a["passed"] else "NO")
    console.print(t)
    console.print(f"wrote {run.json_path} and {run.html_path}")
