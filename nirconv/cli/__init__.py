"""The ``nirconv`` command. Parsing and error -> exit code only; nothing imports this package.

Each subcommand lives in its own module (``nirconv/cli/<name>.py``) exposing a click command named
``command``; `SUBCOMMANDS` lists them. Errors: a `NirconvError` prints one line on stderr and exits
with its code (2 bad input / unsupported, 1 checked and found wanting); anything else is a bug and
prints a one-line message too, unless ``--debug`` asks for the traceback.
"""
from __future__ import annotations

import sys
from importlib import import_module

import click

INTERNAL_ERROR = 3  # a bug in nirconv, never a verdict on the user's input (0/1/2 are those)
INTERRUPTED = 130  # SIGINT / Ctrl-C, as shells report it (128 + 2)

SUBCOMMANDS = ("demo", "convert", "export", "check", "simulate", "audit", "targets", "inspect")


class LazyGroup(click.Group):
    def list_commands(self, ctx):
        return list(SUBCOMMANDS)

    def get_command(self, ctx, name):
        if name not in SUBCOMMANDS:
            return None
        return import_module(f"nirconv.cli.{name}_cmd").command


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--debug", is_flag=True, help="Show tracebacks.")
@click.version_option(package_name="nirconv")
@click.pass_context
def cli(ctx, debug):
    """nirconv: trained network -> spiking network -> NIR graph for a neuromorphic chip."""
    ctx.obj = {"debug": debug}


def main(argv=None) -> int:
    from ..errors import InternalError, NirconvError

    debug = "--debug" in (argv if argv is not None else sys.argv[1:])
    try:
        rv = cli.main(args=argv, prog_name="nirconv", standalone_mode=False)
        # with standalone_mode=False click returns ctx.exit(n)'s n (or the command's return value)
        return rv if isinstance(rv, int) and not isinstance(rv, bool) else 0
    except InternalError as e:  # a broken invariant: a bug, reported as such
        if debug:
            raise
        click.echo(f"nirconv: internal error: {e.one_line()} (a bug, please report it; rerun "
                   "with --debug for the traceback)", err=True)
        return INTERNAL_ERROR
    except NirconvError as e:
        if debug:
            raise
        _error_line(f"nirconv: error: {e.one_line()}")
        return e.exit_code
    except click.exceptions.Exit as e:
        return e.exit_code
    except click.ClickException as e:  # usage errors: one line too
        ctx = getattr(e, "ctx", None)
        where = f"{ctx.command_path}: " if ctx is not None else ""
        message = " ".join(e.format_message().split())
        _error_line(f"nirconv: error: {where}{message}")
        return 2
    except click.Abort as e:  # click turns Ctrl-C (KeyboardInterrupt) into Abort
        if isinstance(e.__cause__, KeyboardInterrupt):
            click.echo("nirconv: interrupted", err=True)
            return INTERRUPTED
        click.echo("nirconv: aborted", err=True)
        return 2
    except KeyboardInterrupt:
        return INTERRUPTED
    except Exception as e:  # a bug, not a user mistake: still one line unless --debug
        if debug:
            raise
        _error_line(f"nirconv: internal error: {type(e).__name__}: {' '.join(str(e).split())} "
                    "(a bug, please report it; rerun with --debug for the traceback)")
        return INTERNAL_ERROR


def _error_line(text: str) -> None:
    """One line on stderr: user strings in it (paths, names) cannot break it or drive the
    terminal (control characters are escaped, `nirconv.cli.common.plain`)."""
    from .common import plain

    click.echo(plain(text), err=True)


def run() -> None:
    sys.exit(main())
