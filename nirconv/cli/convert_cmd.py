"""`nirconv convert` (README: Command line): a trained model -> float SNN -> NIR file."""
from __future__ import annotations

from pathlib import Path

import click

from ..errors import BadInput
from .common import echo_json, load_npy, plain


@click.command(name="convert")
@click.argument("model", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--arch", default=None, metavar="MODULE:CALLABLE",
              help="Builds the network a state_dict MODEL is loaded into (not needed for "
              ".pt2). nirconv imports and runs this code of yours: use only code you "
              "trust.")
@click.option("--calibration", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Calibration inputs, a (B, ...) .npy array.")
@click.option("--normalize", "normalize", default=None,
              type=click.Choice(["calibrated", "max", "percentile", "scale"]),
              help="Threshold normalization (default: calibrated, the most accurate).")
@click.option("--percentile", default=99.9, show_default=True, type=float)
@click.option("--scale", default=None, type=float, help="Factor of the max for --normalize scale.")
@click.option("--channel-wise/--layer-wise", "channel_wise", default=None,
              help="Per-channel thresholds (default) or one per layer.")
@click.option("--readout", default=None, type=click.Choice(["membrane", "spikes"]),
              help="Readout layer (default: membrane, the more accurate).")
@click.option("--timesteps", default=None, type=click.IntRange(min=1),
              help="Steps to calibrate for (default: 4, 8, 16 and 32 together).")
@click.option("--nir-version", default=None, help="Write a file this nir version reads (1.0.4).")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print a JSON summary.")
def command(model, arch, calibration, normalize, percentile, scale, channel_wise, readout,
            timesteps, nir_version, output, as_json):
    """Convert a trained MODEL (.pt2 from torch.export.save, or a state_dict with --arch) into a
    float SNN and write it as a NIR graph."""
    from .. import convert, save, to_nir
    from ..conversion.model_io import load_model
    from ..nir_io.atomic import check_destination

    check_destination(output)  # before the work: a folder, device or read-only place is exit 2
    x = load_npy(calibration, "calibration array")
    net = load_model(model, arch)
    try:
        snn = convert(net, x, normalize=normalize, percentile=percentile, scale=scale,
                      channel_wise=channel_wise, readout=readout, timesteps=timesteps,
                      source=model.name)
    except BadInput as e:
        raise e.with_file(calibration if e.field == "calibration" else model)
    except Exception as e:
        if hasattr(e, "with_file"):
            raise e.with_file(model)
        raise
    graph = to_nir(snn)
    save(graph, output, nir_version=nir_version)
    summary = {"output": str(output), "nodes": len(graph.nodes), "edges": len(graph.edges),
               **{k: snn.metadata[k] for k in ("normalization", "granularity", "readout",
                                                "calibration_timesteps")}}
    if as_json:
        echo_json(summary)
    else:
        click.echo(f"wrote {plain(output)}: {summary['nodes']} nodes, normalization "
                   f"{summary['normalization']} ({summary['granularity']}-wise), readout "
                   f"{summary['readout']}, calibrated for T = "
                   f"{', '.join(map(str, summary['calibration_timesteps']))}")
