"""The one place hipkb makes experta 1.9.4 import on Python 3.10 and newer.

experta pins ``frozendict==1.2``, whose ``frozendict`` class derives from
``collections.Mapping``; that alias was removed from :mod:`collections` in
Python 3.10, so ``import experta`` fails with AttributeError. Restoring the
alias before experta (and with it frozendict) is first imported is enough:
experta itself runs unchanged. Every hipkb module imports experta through
:func:`import_experta`, never directly. ``tests/test_compat.py`` fails if this
stops working.
"""

from __future__ import annotations

import collections
import collections.abc
import logging
from types import ModuleType

_ALIASES = ("Mapping", "MutableMapping", "Sequence", "Iterable", "Hashable", "Callable")
EXPERTA_LOGGERS = ("experta", "experta.watchers")


def patch_collections() -> None:
    """Restore the ``collections`` ABC aliases that frozendict 1.2 uses."""
    for name in _ALIASES:
        if not hasattr(collections, name):
            setattr(collections, name, getattr(collections.abc, name))


def import_experta() -> ModuleType:
    """Import experta with the shim in place, and keep its logging quiet.

    Importing experta calls ``logging.basicConfig()`` and its watchers log at
    DEBUG/INFO; hipkb silences them unless ``-v`` turns them on
    (:func:`set_verbose`).
    """
    patch_collections()
    root = logging.getLogger()
    had_handlers = bool(root.handlers)
    import experta

    if not had_handlers:
        # Undo experta's basicConfig so that hipkb's output stays its own.
        for handler in list(root.handlers):
            root.removeHandler(handler)
    set_verbose(0)
    return experta


def set_verbose(level: int) -> None:
    """0: experta silent; 1: rule firings; 2: also facts and agenda."""
    from experta import watchers

    watched = {1: ("RULES",), 2: ("RULES", "FACTS", "ACTIVATIONS", "AGENDA")}.get(level, ())
    for name in ("RULES", "FACTS", "ACTIVATIONS", "AGENDA", "MATCH", "MATCHER", "ENGINE"):
        logger = getattr(watchers, name, None)
        if logger is not None:
            logger.setLevel(logging.DEBUG if name in watched else logging.CRITICAL)
            logger.disabled = name not in watched
    if level:
        logging.basicConfig(format="experta %(name)s: %(message)s")
