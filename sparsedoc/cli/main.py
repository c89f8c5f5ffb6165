"""Entry point of the ``sparsedoc`` command: the group, logging, and one-line errors."""

from __future__ import annotations

import os
import sys

import click

from sparsedoc import __version__
from sparsedoc.encoder.errors import InterruptedRun, SparsedocError
from sparsedoc.encoder.extras import missing_extra

from .logs import setup_logging


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="sparsedoc")
@click.option("-v", "--verbose", count=True, help="More log output on stderr (-vv for debug).")
def cli(verbose: int) -> None:
    """sparsedoc: inference-free learned sparse retrieval on Lucene and OpenSearch.

    Documents are encoded offline by a fill-mask model into token -> weight maps; queries
    need no model (tokens weighted by an IDF table). Start with `sparsedoc quickstart`.
    """
    setup_logging(verbose)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")  # no "PyTorch was not found" without torch


def _register() -> None:
    from . import (
        assets_commands,
        bench_commands,
        eval_commands,
        explain_command,
        mlcommons_commands,
        onnx_commands,
        opensearch_commands,
        retrieval_commands,
        training_commands,
    )

    modules = (assets_commands, bench_commands, eval_commands, explain_command, mlcommons_commands, onnx_commands,
               opensearch_commands, retrieval_commands, training_commands)
    for module in modules:
        for command in module.COMMANDS:
            cli.add_command(command)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; library errors (a missing pip extra among them) become one line on stderr and exit code 1.

    Ctrl-C exits 130 with one line; a resumable step says what it had written.
    """
    _register()
    try:
        result = cli.main(args=argv, prog_name="sparsedoc", standalone_mode=False)
    except click.exceptions.Abort as err:  # click turns Ctrl-C into Abort
        cause = err.__cause__
        click.echo(_interrupted(cause) if isinstance(cause, KeyboardInterrupt) else "aborted", err=True)
        return 130
    except click.ClickException as err:
        err.show()
        return err.exit_code
    except SparsedocError as err:
        click.echo(f"error: {err}", err=True)
        return 1
    except ImportError as err:
        missing = missing_extra(err)  # an optional module imported at the top of a library module
        if missing is None:
            raise
        click.echo(f"error: {missing}", err=True)
        return 1
    except KeyboardInterrupt as err:
        click.echo(_interrupted(err), err=True)
        return 130
    return result if isinstance(result, int) else 0


def _interrupted(err: KeyboardInterrupt) -> str:
    return f"interrupted: {err}" if isinstance(err, InterruptedRun) else "interrupted"


if __name__ == "__main__":
    sys.exit(main())
