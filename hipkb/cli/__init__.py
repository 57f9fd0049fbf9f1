"""The ``hipkb`` command line: a thin click layer over :mod:`hipkb.api`.

Commands are imported only when they are run (click's lazy group pattern), so
``hipkb run`` does not pay for the report templates or the verifier.
"""

from __future__ import annotations

import contextlib
import errno
import importlib
import importlib.util
import os
import sys
from typing import Any

import click

from hipkb import __version__
from hipkb.errors import HipkbError, one_line

_WRITE_ERRNOS = frozenset({errno.ENOSPC, errno.EIO, errno.EROFS, errno.EFBIG,
                           getattr(errno, "EDQUOT", errno.ENOSPC)})

COMMANDS: dict[str, tuple[str, str]] = {
    "run": ("hipkb.cli.run", "Reason about case files and print the results."),
    "validate": ("hipkb.cli.validate", "Check case files against the case format, without reasoning."),
    "schema": ("hipkb.cli.schema", "Print the JSON Schema of case files."),
    "questionnaire": ("hipkb.cli.questionnaire", "Print the case form as a FHIR R4 Questionnaire."),
    "explain": ("hipkb.cli.explain", "Explain how a conclusion was reached, or why one was not."),
    "interview": ("hipkb.cli.interview", "Build a case by answering questions."),
    "check": ("hipkb.cli.check", "Verify a rule base: anomalies, regression cases, coverage."),
    "rules": ("hipkb.cli.rules", "Browse the knowledge base."),
    "compare": ("hipkb.cli.compare", "Compare two rule bases on a set of cases."),
    "evaluate": ("hipkb.cli.evaluate", "Measure a rule base on labelled cases."),
    "sensitivity": ("hipkb.cli.sensitivity", "Which answers hang on which weights and band thresholds."),
    "serve": ("hipkb.cli.serve", "Serve the case page, teaching mode and the JSON API in the browser."),
}


class LazyGroup(click.Group):
    """A group whose commands live in their own modules, imported on demand."""

    def main(self, *args: Any, **kwargs: Any) -> Any:
        from hipkb.cli import streams

        streams.guard()  # a closed stdin or stdout: one line when a command needs it, never an internal error
        return super().main(*args, **kwargs)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return [name for name, (module, _) in COMMANDS.items() if importlib.util.find_spec(module)]

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in COMMANDS or not importlib.util.find_spec(COMMANDS[name][0]):
            return None
        module = importlib.import_module(COMMANDS[name][0])
        return module.command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, COMMANDS[name][1]) for name in self.list_commands(ctx)]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            value = super().invoke(ctx)
            sys.stdout.flush()  # a full disk shows here, as one line, not at exit
            return value
        except HipkbError as error:
            click.echo(f"hipkb: {error}", err=True)
            ctx.exit(error.exit_code)
        except BrokenPipeError:
            sys.stderr.close()
            ctx.exit(1)
        except KeyboardInterrupt as interrupt:
            click.echo("hipkb: interrupted", err=True)
            ctx.exit(128 + getattr(interrupt, "signum", 2))  # 130 for Ctrl-C, 143 for SIGTERM
        except (click.exceptions.ClickException, click.exceptions.Exit, click.exceptions.Abort):
            with contextlib.suppress(OSError, ValueError):
                sys.stdout.flush()
            raise
        except OSError as error:
            if error.errno not in _WRITE_ERRNOS:
                raise
            # Writing the output failed (a full disk, a read-only or vanished
            # file system): not a bug, and said in one line.
            with contextlib.suppress(OSError, ValueError):
                sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - nothing more can reach the real one
            click.echo(f"hipkb: cannot write the output ({error.strerror})", err=True)
            ctx.exit(1)
        except Exception as error:
            # A bug in hipkb, not in what the user gave it: one line that says
            # so, and the traceback only when asked for with -v.
            if (ctx.obj or {}).get("verbose"):
                raise
            click.echo(f"hipkb: internal error: {type(error).__name__}: {one_line(str(error))} "
                       "(a bug in hipkb; run with -v for the traceback and report it)", err=True)
            ctx.exit(1)


@click.group("hipkb", cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "-V", "--version", prog_name="hipkb")
@click.option("-v", "--verbose", count=True, help="Show experta's rule firings (-v) and fact changes (-vv) on stderr.")
@click.pass_context
def main(ctx: click.Context, verbose: int) -> None:
    """hipkb: an expert system for hip pain in runners.

    Reason about a case file with `hipkb run CASE`. Decision support, not a
    diagnosis.
    """
    ctx.obj = {"verbose": verbose}
