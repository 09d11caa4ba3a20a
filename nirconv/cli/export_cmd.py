"""`nirconv export MODEL_OR_NIR --target NAME ... -o OUT [--force] [--json]` (README: Command line).

Quantizes for the target, maps and checks it. Exit 1 and no file if it does not fit, unless
--force (then the file is written and the exit code is still 1)."""
from __future__ import annotations

from pathlib import Path

import click

from ..errors import BadInput, DoesNotFit, Unsupported
from .common import echo_json, load_npy, plain

FORMATS = {"nir": None, "rockpool": "xylo", "netx": "loihi2"}


def _is_nir(path: Path) -> bool:
    if path.suffix == ".nir":
        return True
    from ..nir_io.hdf5_reader import has_node_group

    return has_node_group(path)


def _load_model(path, arch):
    from ..conversion.model_io import load_model

    return load_model(path, arch=arch)


def _write(int_program, float_program, out, fmt, nir_version, target):
    """The deployed graph (``nir``), or the chip toolchain's format from the integer program."""
    if fmt == "nir":
        from ..nir_io import save
        from ..writing import to_nir
        save(to_nir(int_program, float_program), out, nir_version=nir_version)
        return
    family = FORMATS[fmt]
    if target.family != family:
        raise Unsupported(f"--format {fmt} is for {family} targets, not {target.name}",
                          field="format")
    if fmt == "rockpool":
        from ..vendors.xylo import write_rockpool_npz as writer
    else:
        from ..vendors.netx import write_netx as writer
    writer(int_program, out)


@click.command(name="export")
@click.argument("model_or_nir", type=click.Path(dir_okay=False))
@click.option("--target", "-t", required=True, help="Built-in target name or a target .toml file.")
@click.option("--arch", default=None, metavar="MODULE:CALLABLE",
              help="Builds the network a state_dict MODEL is loaded into (not needed for "
              ".pt2). nirconv imports and runs this code of yours: use only code you "
              "trust.")
@click.option("--calibration", type=click.Path(dir_okay=False), default=None,
              help="Calibration inputs (.npy); required for a model, sets the input range.")
@click.option("--normalize", default=None, help="Conversion normalization (see convert).")
@click.option("--percentile", type=float, default=99.9, show_default=True)
@click.option("--scale", type=float, default=None)
@click.option("--channel-wise/--layer-wise", "channel_wise", default=None)
@click.option("--readout", type=click.Choice(["spikes", "membrane"]), default=None)
@click.option("--timesteps", type=int, default=None, help="Time steps the conversion targets.")
@click.option("--nir-version", default=None, help="Write for an older nir reader (e.g. 1.0.4).")
@click.option("--dialect", default="auto", show_default=True)
@click.option("--dt", type=float, default=None, help="Time step in seconds (if the graph has none).")
@click.option("--format", "fmt", type=click.Choice(list(FORMATS)), default="nir", show_default=True)
@click.option("-o", "--output", "out", required=True, type=click.Path(dir_okay=False))
@click.option("--force", is_flag=True, help="Write the file even if it does not fit (exit 1).")
@click.option("--json", "as_json", is_flag=True, help="Print the fit report as JSON.")
def command(model_or_nir, target, arch, calibration, normalize, percentile, scale, channel_wise,
            readout, timesteps, nir_version, dialect, dt, fmt, out, force, as_json):
    """Quantize MODEL_OR_NIR for TARGET, check that it fits, write OUT."""
    from ..nir_io.atomic import check_destination
    from ..deploy import export_program
    from ..targets import load

    check_destination(out)  # before the work: a folder, device or read-only place is exit 2
    t = load(target)
    src = Path(model_or_nir)
    if not src.exists():
        raise BadInput("file not found", file=src)
    cal = load_npy(calibration, "calibration inputs") if calibration else None
    if _is_nir(src):
        obj = str(src)
    else:
        if cal is None:
            raise BadInput("exporting a model needs --calibration X.npy", file=src,
                           field="calibration")
        obj = _load_model(src, arch)
    options = {k: v for k, v in dict(normalize=normalize, scale=scale, channel_wise=channel_wise,
                                     readout=readout, timesteps=timesteps).items() if v is not None}
    if not _is_nir(src):
        options["percentile"] = percentile
    try:
        int_program, float_program, report = export_program(
            obj, target=t, calibration=cal, force=force, dialect=dialect, dt=dt, source=str(src),
            **options)
    except DoesNotFit as e:
        if as_json and e.report is not None:
            echo_json(dict(e.report.to_json(), output=None, format=fmt))
        raise
    _write(int_program, float_program, out, fmt, nir_version, t)
    if as_json:
        echo_json(dict(report.to_json(), output=str(out), format=fmt))
    else:
        from .check_cmd import print_report
        print_report(report)
        click.echo(f"wrote {plain(out)}")
    if not report.fits:
        raise DoesNotFit(report.summary() + f" (written anyway: --force): {out}", report=report)
