"""Options and helpers shared by the commands."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])

DIR = click.Path(exists=True, file_okay=False, dir_okay=True, path_type=Path)


def kb_options(func: F) -> F:
    """``--rules DIR`` and ``--facts DIR``: another knowledge base."""
    func = click.option("--facts", "facts_dir", type=DIR, default=None,
                        help="Vocabulary directory (holds vocabulary.yaml); default: the shipped one.")(func)
    func = click.option("--rules", "rules_dir", type=DIR, default=None,
                        help="Rule directory (holds kb.yaml and rule files); default: the shipped one.")(func)
    return func


def load_kb_from(rules_dir: Path | None, facts_dir: Path | None):
    """Load the knowledge base the options name, with experta's verbosity set."""
    from hipkb import api
    from hipkb.engine.watchers import set_verbose

    ctx = click.get_current_context(silent=True)
    kb = api.load_kb(rules_dir, facts_dir)
    verbose = ((ctx.find_root().obj or {}).get("verbose", 0)) if ctx else 0
    set_verbose(verbose)
    return kb
