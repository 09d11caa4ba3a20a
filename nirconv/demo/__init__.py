"""`nirconv demo`: the whole pipeline on the embedded default (a small CNN on scikit-learn digits).

train (seconds) -> convert -> NIR (snn.nir) -> float SNN accuracy at T = 4..32 -> check against every
built-in target -> export for one -> audit -> DIR/report.json and DIR/report.html.
Each stage is a function returning a plain dict (what report.json holds), so tests can call them.
The embedded models and their data live beside this module (`digits`, `mnist1d_model`); the demo
is layer 8 of docs/architecture.md: it uses the facade, and nothing in the library imports it.
"""
from __future__ import annotations

import base64
import html
import io
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

TIMESTEPS = (4, 8, 16, 32)


@dataclass
class DemoRun:
    out: Path
    target: str
    report: dict
    html_path: Path
    json_path: Path


def conversion_stage(model, data, snn, graph_path, backend="torch") -> dict:
    """ANN and float-SNN accuracy at each T (one run of max(T) steps, prefix sums), spikes/sample."""
    import nirconv
    from ..reading import to_program
    from ..simulation import run_program

    x, y = data.x_test, data.y_test.numpy()
    with torch.no_grad():
        ann_acc = float((model(x).argmax(-1).numpy() == y).mean())
    program = to_program(nirconv.load(graph_path), mode="float")
    T = max(TIMESTEPS)
    result = run_program(program, program.check_input(x.numpy(), T), backend=backend)
    out = np.asarray(result.output)
    cum = np.cumsum(out, axis=0)
    rows = []
    spikes_total = sum(result.spikes_per_node.values())
    for t in TIMESTEPS:
        acc = float((cum[t - 1].argmax(-1) == y).mean())
        rows.append({"timesteps": t, "snn_accuracy": acc})
    # spikes per sample at each T needs per-step counts: record every spiking op once
    per_step = _spikes_per_step(program, x.numpy(), T, backend)
    for row in rows:
        row["spikes_per_sample"] = float(per_step[: row["timesteps"]].sum() / len(y))
    with torch.no_grad():
        module_out = snn(x[:64], timesteps=8).sum(0).argmax(-1).numpy()
    return {"ann_accuracy": ann_acc, "rows": rows, "samples": int(len(y)),
            "synops_per_sample_T32": float(result.synops / len(y)),
            "spikes_per_sample_T32": float(spikes_total / len(y)),
            "module_matches_graph_T8": bool((module_out == cum[7][:64].argmax(-1)).all()),
            "normalization": str(snn.metadata.get("normalization", ""))}


def _spikes_per_step(program, x, T, backend) -> np.ndarray:
    from ..equations.program import NeuronOp
    from ..simulation import run_program

    names = [op.name for op in program.ops
             if isinstance(op, NeuronOp) and getattr(op.neuron, "spiking", True)]
    result = run_program(program, program.check_input(x, T), backend=backend, record=names)
    per_step = np.zeros(T)
    for name in names:
        rec = np.asarray(result.recorded[name])
        per_step += rec.reshape(T, -1).sum(1)
    return per_step


def targets_stage(graph, spikes_graph) -> list[dict]:
    """Fit report per built-in target; spike-only chips get the spike-readout conversion."""
    import nirconv
    from ..targets import builtins
    rows = []
    for target in builtins():
        membrane = bool(target["neurons.membrane_readout"])
        rep = nirconv.check(graph if membrane else spikes_graph, target=target.name)
        rows.append(rep.to_json())
    return rows


def accuracy_plot(conversion: dict, audit_json: dict | None) -> str:
    """PNG (base64) of accuracy against T: ANN, float SNN (and deployed at the audit's T)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ts = [r["timesteps"] for r in conversion["rows"]]
    fig, ax = plt.subplots(figsize=(5, 3.2), dpi=110)
    ax.plot(ts, [100 * r["snn_accuracy"] for r in conversion["rows"]], "o-", label="float SNN")
    ax.axhline(100 * conversion["ann_accuracy"], color="k", ls="--", lw=1, label="ANN")
    if audit_json:
        ax.plot([audit_json["timesteps"]], [100 * audit_json["deployed_accuracy"]], "s",
                color="C3", label=f"deployed ({audit_json.get('target', '')})")
    ax.set_xscale("log", base=2)
    ax.set_xticks(ts, [str(t) for t in ts])
    ax.set_xlabel("time steps T")
    ax.set_ylabel("test accuracy (%)")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode()


def _table(headers, rows) -> str:
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in r) + "</tr>"
                   for r in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def html_report(report: dict, plot_png: str, audit_fragment: str) -> str:
    conv = report["conversion"]
    conv_rows = [("ANN", "", f"{100 * conv['ann_accuracy']:.2f}", "")] + [
        ("float SNN", r["timesteps"], f"{100 * r['snn_accuracy']:.2f}",
         f"{r['spikes_per_sample']:.0f}") for r in conv["rows"]]
    fit_rows = [(t["target"], "yes" if t["fits"] else "no",
                 "; ".join(f"{v['node']}: {v['rule']} ({v['value']} > {v['limit']})"
                           for v in t["violations"][:4]) + (" …" if len(t["violations"]) > 4 else ""),
                 f"{t['resources'].get('cores_used')}/{t['resources'].get('cores_available')}")
                for t in report["targets"]]
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>nirconv demo report</title>
<style>body{{font-family:sans-serif;max-width:60em;margin:2em auto}}table{{border-collapse:collapse;margin:1em 0}}
td,th{{border:1px solid #bbb;padding:.25em .6em;text-align:left}}</style></head><body>
<h1>nirconv demo</h1><p>{html.escape(report['model'])}, {conv['samples']} test samples,
normalization <code>{html.escape(conv['normalization'])}</code>.</p>
<h2>Conversion</h2>{_table(('network', 'T', 'accuracy %', 'spikes / sample'), conv_rows)}
<img alt="accuracy vs T" src="data:image/png;base64,{plot_png}">
<h2>Targets</h2>{_table(('target', 'fits', 'violations', 'cores used'), fit_rows)}
<h2>Audit ({html.escape(report['deployed_target'])})</h2>{audit_fragment}
</body></html>"""


def run_demo(out="nirconv-demo", target="speck", progress=True, echo=print) -> DemoRun:
    """Run the pipeline, writing into a temporary folder beside ``out``; its files are moved into
    ``out`` only when everything succeeded (no partial output). The temporary folder follows
    nirconv/nir_io/atomic.py: our naming, removed on errors and signals, swept after ``kill -9``."""
    from ..nir_io.atomic import atomic_write_text, check_folder_destination, temp_folder
    from ..targets import load as load_target

    out = check_folder_destination(out)  # a file, device or unwritable folder: exit 2, untouched
    tgt = load_target(target)  # fails early (exit 2) on an unknown target
    with temp_folder(out) as work:
        report, audit_html, audit_json = _pipeline(work, out, tgt, progress, echo)
        conversion = report["conversion"]
        atomic_write_text(work / "report.json", json.dumps(report, indent=2, default=_jsonable))
        page = html_report(report, accuracy_plot(conversion, audit_json), audit_html)
        atomic_write_text(work / "report.html", page)
        _move_into(work, out)
    return DemoRun(out, tgt.name, report, out / "report.html", out / "report.json")


def _move_into(work: Path, out: Path) -> None:
    """Move the finished files into ``out``, every destination checked before the first move."""
    from ..nir_io.atomic import check_destination, write_error

    files = sorted(work.iterdir())
    if out.is_dir():
        for f in files:
            check_destination(out / f.name)
    try:
        out.mkdir(parents=True, exist_ok=True)
        for f in files:
            os.replace(f, out / f.name)
    except OSError as e:
        raise write_error(e, out) from None


def _pipeline(work: Path, out: Path, tgt, progress, echo):
    import nirconv
    from .digits import trained_digits_cnn
    from ..fidelity import audit_section, html_fragment

    t0 = time.perf_counter()
    echo("training the embedded CNN on scikit-learn digits ...")
    model, data = trained_digits_cnn(seed=0)
    echo(f"  done in {time.perf_counter() - t0:.1f} s; converting ...")
    snn = nirconv.convert(model, data.x_train)  # default: the most accurate normalization
    graph = nirconv.to_nir(snn)
    nirconv.save(graph, work / "snn.nir")
    conversion = conversion_stage(model, data, snn, work / "snn.nir")
    echo("checking every built-in target ...")
    spikes_graph = nirconv.to_nir(nirconv.convert(model, data.x_train, readout="spikes"))
    nirconv.save(spikes_graph, work / "snn_spikes.nir")
    targets = targets_stage(graph, spikes_graph)
    echo(f"exporting for {tgt.name} and auditing ...")
    dep_source = graph if tgt["neurons.membrane_readout"] else spikes_graph
    dep = nirconv.export(dep_source, target=tgt.name, calibration=data.x_train)
    nirconv.save(dep, work / f"deployed_{tgt.name}.nir")
    result = nirconv.audit(model, dep, data.x_test, data.y_test, timesteps=max(TIMESTEPS),
                           progress=progress)
    report = {"model": "DigitsCNN (conv-bn-relu-avgpool x2, linear-relu, linear) on sklearn digits",
              "deployed_target": tgt.name,
              "files": {"snn": str(out / "snn.nir"), "snn_spikes": str(out / "snn_spikes.nir"),
                        "deployed": str(out / f"deployed_{tgt.name}.nir")},
              "conversion": conversion, "targets": targets, "audit": audit_section(result)}
    return report, html_fragment(result, heading=False), result.to_json()


def _jsonable(o):
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, np.generic):
        return o.item()
    return str(o)
