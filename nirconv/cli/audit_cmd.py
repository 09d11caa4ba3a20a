"""`nirconv audit` (README: Command line): exit 0 passed, 1 below tolerance, 2 bad input."""
from __future__ import annotations

import sys
import warnings

import click

from .common import console as make_console

from ..errors import BadInput, CheckFailed
from .common import load_npy


@click.command(name="audit")
@click.argument("model", type=click.Path(dir_okay=False))
@click.argument("deployed", type=click.Path(dir_okay=False))
@click.option("--arch", default=None, metavar="MODULE:CALLABLE",
              help="Builds the network a state_dict MODEL is loaded into (not needed for "
              ".pt2). nirconv imports and runs this code of yours: use only code you "
              "trust.")
@click.option("--data", "data_path", required=True, type=click.Path(dir_okay=False),
              help="Static inputs (B, *shape) .npy.")
@click.option("--labels", "labels_path", required=True, type=click.Path(dir_okay=False),
              help="Integer labels (B,) .npy.")
@click.option("--snn", "snn_path", default=None, type=click.Path(dir_okay=False),
              help="Float SNN .nir to compare with (default: rebuilt from DEPLOYED's metadata).")
@click.option("--timesteps", default=32, show_default=True, type=click.IntRange(min=1),
              help="Steps per sample.")
@click.option("--tolerance", default=1.0, show_default=True, type=float,
              help="Allowed accuracy drop of the deployed SNN below the float SNN (points).")
@click.option("--backend", default="torch", show_default=True,
              type=click.Choice(["torch", "event"]), help="Simulator.")
@click.option("--device", default="cpu", show_default=True, help="cpu or cuda (torch backend).")
@click.option("--batch-size", default=256, show_default=True, type=click.IntRange(min=1),
              help="Samples simulated at once.")
@click.option("--json", "json_path", default=None, metavar="REPORT.json",
              help="Write the JSON report here ('-': stdout).")
@click.option("--report", "html_path", default=None, type=click.Path(dir_okay=False),
              metavar="REPORT.html", help="Write the HTML report with plots here.")
@click.option("--progress/--no-progress", default=True, help="Progress bar on a terminal.")
def command(model, deployed, arch, data_path, labels_path, snn_path, timesteps, tolerance,
            backend, device, batch_size, json_path, html_path, progress):
    """Accuracy of the ANN, the float SNN and the deployed SNN; per-layer agreement; the first
    divergence. Exit 0 when the deployed SNN is within --tolerance points of the float SNN, 1 when
    it is not, 2 on bad input."""
    from ..conversion.model_io import load_model
    from ..fidelity import audit, write_report
    from ..fidelity.report import to_json_text

    for path in (json_path, html_path):
        _check_output_folder(path)
    data = load_npy(data_path, "data")
    labels = load_npy(labels_path, "labels")
    with warnings.catch_warnings():  # torch.export's own deprecation notices are not for users
        warnings.simplefilter("ignore", FutureWarning)
        net = load_model(model, arch=arch)
    try:
        result = audit(net, deployed, data, labels, timesteps=timesteps, tolerance=tolerance,
                       snn=snn_path, backend=backend, device=device, progress=progress,
                       batch_size=batch_size)
    except BadInput as e:
        if e.file is None and e.field in ("data", "labels"):
            e.with_file(data_path if e.field == "data" else labels_path)
        raise
    write_report(result, None if json_path in (None, "-") else json_path, html_path)
    if json_path == "-":
        click.echo(to_json_text(result))
    else:
        _print_summary(result)
    if not result.passed:
        raise CheckFailed(f"deployed accuracy {100 * result.deployed_accuracy:.2f}% is "
                          f"{result.accuracy_drop_points:.2f} points below the float SNN's "
                          f"{100 * result.snn_accuracy:.2f}% (tolerance {tolerance:g})",
                          file=deployed, field="tolerance")


def _check_output_folder(path) -> None:
    """Fail before the (long) audit, not after it, when a report cannot be written."""
    from ..nir_io.atomic import check_destination

    if path is None or path == "-":
        return
    check_destination(path)


def _print_summary(result) -> None:
    from rich.table import Table

    console = make_console(file=sys.stdout)
    summary = Table(title=f"audit: {result.target or 'deployed'}, {result.samples} samples, "
                          f"T={result.timesteps}")
    for col in ("ANN", "float SNN", "deployed", "drop (points)", "verdict"):
        summary.add_column(col, justify="right")
    summary.add_row(f"{100 * result.ann_accuracy:.2f}%", f"{100 * result.snn_accuracy:.2f}%",
                    f"{100 * result.deployed_accuracy:.2f}%",
                    f"{result.accuracy_drop_points:.2f}", "passed" if result.passed else "FAILED")
    console.print(summary)
    layers = Table(title="per layer: float SNN vs deployed")
    for col in ("node", "spike agreement", "rate correlation", "shift", "rate error"):
        layers.add_column(col, justify="right")
    for layer in result.layers:
        err = "—" if layer.rate_error_deployed is None else f"{layer.rate_error_deployed:.4f}"
        layers.add_row(layer.node, f"{layer.spike_agreement:.4f}",
                       f"{layer.rate_correlation:.4f}", str(layer.shift_steps), err)
    console.print(layers)
    d = result.first_divergence
    console.print("first divergence: none" if d is None else
                  f"first divergence: sample {d['sample']}, node {d['node']}, step "
                  f"{d['timestep']}, neuron {d['neuron']}")
