"""The audit's report: JSON (the contract's shape) and HTML with embedded PNG plots.

Plots (matplotlib's Agg canvas on a bare `Figure`, no pyplot state): accuracy vs the number of
steps for ANN / float SNN / deployed (one run of T steps gives every T' <= T by prefix sums),
per-layer spike agreement and rate correlation, and per-layer SNN rate vs ANN activation.
Files are written atomically (`nirconv.nir_io.atomic`).
"""
from __future__ import annotations

import base64
import html
import io
import json
from typing import Optional

import numpy as np

from ..nir_io.atomic import atomic_write_text

MAX_SCATTER_LAYERS = 6


def audit_section(result) -> dict:
    """The audit as a JSON-ready dict (what the demo puts under "audit")."""
    return json.loads(to_json_text(result))


def to_json_text(result) -> str:
    return json.dumps(result.to_json(), indent=2, default=_plain, allow_nan=False)


def _plain(o):
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, np.generic):
        return o.item()
    raise TypeError(f"not JSON serializable: {type(o).__name__}")


def write_report(result, json_path=None, html_path=None) -> None:
    """Write the JSON and/or the HTML report (each atomically; None skips it)."""
    if json_path is not None:
        atomic_write_text(json_path, to_json_text(result) + "\n")
    if html_path is not None:
        atomic_write_text(html_path, html_page(result))


# --- plots --------------------------------------------------------------------------------------

def _figure(width, height):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=100)
    FigureCanvasAgg(fig)
    return fig


def _png(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight")
    return base64.b64encode(buf.getvalue()).decode("ascii")


def plot_accuracy(result) -> str:
    fig = _figure(6, 3.5)
    ax = fig.add_subplot()
    steps = np.arange(1, len(result.snn_accuracy_by_steps) + 1)
    ax.axhline(100 * result.ann_accuracy, color="k", ls="--", label="ANN")
    ax.plot(steps, 100 * np.asarray(result.snn_accuracy_by_steps), label="float SNN")
    ax.plot(steps, 100 * np.asarray(result.deployed_accuracy_by_steps),
            label=f"deployed ({result.target or 'integer'})")
    ax.set_xlabel("time steps")
    ax.set_ylabel("accuracy (%)")
    ax.set_ylim(0, 100)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right")
    return _png(fig)


def plot_layers(result) -> Optional[str]:
    if not result.layers:
        return None
    fig = _figure(max(4.0, 1.1 * len(result.layers) + 2), 3.5)
    ax = fig.add_subplot()
    x = np.arange(len(result.layers))
    ax.bar(x - 0.2, [layer.spike_agreement for layer in result.layers], 0.4,
           label="spike agreement")
    ax.bar(x + 0.2, [layer.rate_correlation for layer in result.layers], 0.4,
           label="rate correlation")
    ax.set_xticks(x, [layer.node for layer in result.layers], rotation=30, ha="right")
    ax.set_ylim(min(0.0, *[layer.rate_correlation for layer in result.layers]), 1.05)
    ax.set_ylabel("float SNN vs deployed")
    ax.grid(axis="y", alpha=0.3)
    ax.legend(loc="lower left")
    return _png(fig)


def plot_rates(result) -> Optional[str]:
    names = [n for n, pts in result.scatter.items() if len(pts[0])][:MAX_SCATTER_LAYERS]
    if not names:
        return None
    fig = _figure(3.2 * len(names), 3.2)
    for i, name in enumerate(names):
        act, rf, rq = result.scatter[name]
        ax = fig.add_subplot(1, len(names), i + 1)
        ax.scatter(act, rf, s=4, alpha=0.4, label="float SNN")
        ax.scatter(act, rq, s=4, alpha=0.4, label="deployed")
        ax.set_title(name, fontsize=9)
        ax.set_xlabel("ANN activation")
        if i == 0:
            ax.set_ylabel("rate (spikes / step)")
            ax.legend(loc="upper left", fontsize=8)
        ax.grid(alpha=0.3)
    return _png(fig)


# --- HTML ---------------------------------------------------------------------------------------

def _pct(v) -> str:
    return "—" if v is None else f"{100 * v:.2f}%"


def _num(v, fmt="{:.4f}") -> str:
    return "—" if v is None else fmt.format(v)


def _img(b64: Optional[str], alt: str) -> str:
    if b64 is None:
        return ""
    return f'<figure><img alt="{html.escape(alt)}" src="data:image/png;base64,{b64}"></figure>'


def _summary_rows(result) -> list[tuple[str, str]]:
    rows = [("target", result.target or "—"), ("samples", str(result.samples)),
            ("time steps", str(result.timesteps)),
            ("deployed latency", f"{result.latency_steps} step(s)"),
            ("ANN accuracy", _pct(result.ann_accuracy)),
            ("float SNN accuracy", _pct(result.snn_accuracy)),
            ("deployed accuracy", _pct(result.deployed_accuracy))]
    if result.vendor_accuracy is not None:
        rows.append(("vendor simulator accuracy", _pct(result.vendor_accuracy)))
    elif result.vendor:
        rows.append(("vendor simulator", result.vendor))
    verdict = "PASSED" if result.passed else "FAILED"
    rows.append(("verdict", f"{verdict} (drop {result.accuracy_drop_points:.2f} points, "
                            f"tolerance {result.tolerance:g})"))
    return rows


def _table(header, rows) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>"
                   for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _layer_rows(result):
    for layer in result.layers:
        yield (layer.node, _num(layer.spike_agreement), _num(layer.rate_correlation),
               layer.shift_steps, f"{layer.float_rate:.4f}", f"{layer.deployed_rate:.4f}",
               layer.ann_module or "—", _num(layer.rate_error_float),
               _num(layer.rate_error_deployed))


def _divergence(result) -> str:
    d = result.first_divergence
    if d is None:
        return "<p>No divergence: the deployed spikes equal the float SNN's on every node.</p>"
    return ("<p>Worst sample <b>{s}</b> first diverges at node <b>{n}</b>, step <b>{t}</b>, "
            "neuron <b>{i}</b> {idx}: float SNN {f}, deployed {q}.</p>").format(
        s=d["sample"], n=html.escape(str(d["node"])), t=d["timestep"], i=d["neuron"],
        idx=html.escape(str(tuple(d.get("neuron_index", ())))), f=d.get("float"),
        q=d.get("deployed"))


def html_fragment(result, heading: bool = True) -> str:
    """An HTML ``<section>`` of the audit (tables + plots) that another page can embed
    (``heading=False`` leaves out its ``<h2>`` for a page that has its own)."""
    parts = ['<section class="nirconv-audit">', "<h2>Fidelity audit</h2>" if heading else "",
             _table(("", ""), _summary_rows(result)),
             _img(plot_accuracy(result), "accuracy vs time steps"),
             "<h3>Per layer: float SNN vs deployed</h3>",
             _table(("node", "spike agreement", "rate correlation", "shift (steps)",
                     "float rate", "deployed rate", "ANN module", "rate error (float)",
                     "rate error (deployed)"), list(_layer_rows(result))),
             _img(plot_layers(result), "per-layer agreement"),
             "<h3>First divergence</h3>", _divergence(result)]
    rates = plot_rates(result)
    if rates:
        parts += ["<h3>SNN rate vs ANN activation</h3>", _img(rates, "rate vs activation")]
    parts.append("</section>")
    return "\n".join(parts)


STYLE = ("body{font-family:sans-serif;max-width:1100px;margin:2em auto;color:#222}"
         "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;"
         "padding:4px 8px;text-align:left}th{background:#f3f3f3}img{max-width:100%}")


def html_page(result, title: str = "nirconv audit") -> str:
    return (f"<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{html.escape(title)}"
            f"</title><style>{STYLE}</style></head><body>\n<h1>{html.escape(title)}</h1>\n"
            f"{html_fragment(result)}\n</body></html>\n")
