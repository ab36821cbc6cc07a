"""The `fathom` command: `fathom train | evaluate | predict | info`.

Each subcommand is a module here with `HELP` (one line), `add_arguments(parser)` and
`run(args) -> exit code`. They are registered in one place, `COMMANDS`, so a new one
(`bench`, `export`, `serve`) is a new module and one more line.

Errors a user can fix (unknown model, missing dataset, bad --input-shape, unreadable
file) print one line to stderr and exit 2; `--debug` shows the traceback instead.
"""
from __future__ import annotations

import argparse
import importlib
import sys

from ._common import CLIError

# name -> module (imported when the parser is built; heavy imports stay inside `run`)
COMMANDS = {
    "train": "fathom.cli.train",
    "evaluate": "fathom.cli.evaluate",
    "predict": "fathom.cli.predict",
    "info": "fathom.cli.info",
    "export": "fathom.cli.export",
    "serve": "fathom.cli.serve",
    "bench": "fathom.cli.bench",
}

EXIT_USAGE = 2  # argparse's own code for bad arguments; ours for errors the user can fix


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The `fathom` parser. A subcommand's epilog may be a function (it can be costly to
    build: `fathom bench` imports its workloads); it runs only for `command`, the one the
    command line names, since no other subcommand's help can be printed."""
    from .. import __version__
    parser = argparse.ArgumentParser(
        prog="fathom", description="Train, evaluate and inspect Fathom models.")
    parser.add_argument("--version", action="version", version=f"fathom {__version__}")
    parser.add_argument("--debug", action="store_true",
                        help="show the full traceback on errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, path in COMMANDS.items():
        module = importlib.import_module(path)
        epilog = getattr(module, "EPILOG", None)
        p = sub.add_parser(name, help=module.HELP, description=module.__doc__,
                           formatter_class=argparse.RawDescriptionHelpFormatter,
                           epilog=(epilog() if name == command else None)
                           if callable(epilog) else epilog)
        # --debug works after the subcommand too (`fathom train --debug`)
        p.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                       help=argparse.SUPPRESS)
        module.add_arguments(p)
        p.set_defaults(_run=module.run)
    return parser


def main(argv=None) -> int:
    """Entry point of the `fathom` console script and of `python -m fathom`."""
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(next((a for a in argv if not a.startswith("-")), None))
    args = parser.parse_args(argv)
    args.argv = argv  # recorded in a run's config.json
    if args.command is None:
        parser.print_help()
        return EXIT_USAGE
    try:
        return args._run(args) or 0
    except CLIError as e:
        if args.debug:
            raise
        print(f"fathom {args.command}: error: {e}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        if args.debug:
            raise
        print(f"fathom {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `fathom info cnn | head`
        return 0


if __name__ == "__main__":
    sys.exit(main())
