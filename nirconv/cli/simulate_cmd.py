"""`nirconv simulate` (README: Command line): run a NIR graph on an input, write the output.

    nirconv simulate GRAPH.nir --input X.npy [--timesteps T] [--backend event|torch]
                     [--device cpu|cuda] [--mode auto|float|int] [--dialect D]
                     [--reset auto|zero|subtract] [--dt DT] -o OUT.npy [--json]

The output ``(T, B, n_outputs)`` is written atomically; ``--json`` prints
``{"backend", "device", "timesteps", "batch", "spikes_per_node", "synops", "seconds"}``.
"""
from __future__ import annotations

from pathlib import Path

import click

from .common import console as make_console
import numpy as np

from ..errors import BadInput, NirconvError
from .common import echo_json, load_npy

DIALECTS = ("auto", "nirconv", "norse", "snntorch", "sinabs", "rockpool")


@click.command(name="simulate")
@click.argument("graph", type=click.Path(dir_okay=False))
@click.option("--input", "input_path", required=True, type=click.Path(dir_okay=False),
              help="(T, B, *shape) per-step input or (B, *shape) static input (.npy).")
@click.option("--timesteps", default=None, type=click.IntRange(min=1),
              help="Steps for a static input (a (T, B, ...) input brings its own).")
@click.option("--backend", default="event", show_default=True,
              type=click.Choice(["event", "torch"]), help="Simulator.")
@click.option("--device", default="cpu", show_default=True, type=click.Choice(["cpu", "cuda"]),
              help="Device (torch backend).")
@click.option("--mode", default="auto", show_default=True,
              type=click.Choice(["auto", "float", "int"]),
              help="auto: the target's integer equations for a quantized graph, else float.")
@click.option("--dialect", default="auto", show_default=True, type=click.Choice(DIALECTS),
              help="How the file's neurons are read (which tool wrote it).")
@click.option("--reset", default="auto", show_default=True,
              type=click.Choice(["auto", "zero", "subtract"]),
              help="Override the reset of every spiking node (auto: from metadata/dialect).")
@click.option("--dt", default=None, type=float, help="Time step in seconds (if the graph lacks it).")
@click.option("-o", "--output", "output_path", required=True, type=click.Path(dir_okay=False),
              help="Output .npy, (T, B, n_outputs).")
@click.option("--json", "as_json", is_flag=True, help="Print the run's statistics as JSON.")
@click.option("--progress/--no-progress", default=False, help="Progress bar.")
def command(graph, input_path, timesteps, backend, device, mode, dialect, reset, dt, output_path,
            as_json, progress):
    """Simulate GRAPH.nir on --input and write the per-step output to -o OUT.npy."""
    from ..reading import to_program
    from ..simulation import default_float_dtype, run_program

    _check_output(output_path)
    x = load_npy(input_path, "input")
    try:
        program = to_program(graph, mode=mode, dialect=dialect, dt=dt,
                             reset=None if reset == "auto" else reset)
    except NirconvError as e:
        raise e.with_file(graph)
    try:
        xs = program.check_input(x, timesteps)
    except BadInput as e:
        raise e.with_file(input_path)
    result = run_program(program, xs, backend=backend, device=device, progress=progress)
    result = default_float_dtype(result, program, None)
    out = _combined_output(result, program)
    _save_npy(output_path, out)
    stats = {"backend": result.backend or backend, "device": result.device or device,
             "timesteps": int(xs.shape[0]), "batch": int(xs.shape[1]),
             "spikes_per_node": {k: int(v) for k, v in result.spikes_per_node.items()},
             "synops": int(result.synops), "seconds": float(result.seconds),
             "mode": program.mode, "family": program.family, "output": str(output_path),
             "output_shape": list(out.shape), "outputs": list(program.outputs)}
    if as_json:
        echo_json(stats)
    else:
        _print_table(stats)


def _check_output(path) -> None:
    """Before the simulation: a .npy name where a regular file can be written."""
    from ..nir_io.atomic import check_destination

    if Path(path).suffix != ".npy":
        raise BadInput("the output must be a .npy file", file=path)
    check_destination(path)


def _combined_output(result, program) -> np.ndarray:
    """(T, B, n_outputs): each Output flattened per step, several concatenated in graph order."""
    parts = []
    for name in program.outputs:
        arr = np.asarray(result.outputs[name])
        if hasattr(result.outputs[name], "detach"):
            arr = result.outputs[name].detach().cpu().numpy()
        parts.append(arr.reshape(arr.shape[0], arr.shape[1], -1))
    return parts[0] if len(parts) == 1 else np.concatenate(parts, axis=-1)


def _save_npy(path, array: np.ndarray) -> None:
    import io

    from ..nir_io.atomic import atomic_write_bytes

    buf = io.BytesIO()
    np.save(buf, array, allow_pickle=False)
    atomic_write_bytes(path, buf.getvalue())


def _print_table(stats: dict) -> None:
    from rich.table import Table

    table = Table(title=f"simulate: {stats['timesteps']} steps x {stats['batch']} samples "
                        f"({stats['backend']}, {stats['device']}, {stats['mode']})")
    table.add_column("node")
    table.add_column("spikes", justify="right")
    table.add_column("per sample per step", justify="right")
    per = max(stats["timesteps"] * stats["batch"], 1)
    for name, count in stats["spikes_per_node"].items():
        table.add_row(name, str(count), f"{count / per:.3g}")
    console = make_console()
    console.print(table)
    console.print(f"SynOps {stats['synops']}  time {stats['seconds']:.3f} s  "
                  f"output {stats['output']} {tuple(stats['output_shape'])}")
