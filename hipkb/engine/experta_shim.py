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


def patch_collections() -> None:
    """Restore the ``collections`` ABC aliases that frozendict 1.2 uses."""
    for name in _ALIASES:
        if not hasattr(collections, name):
            setattr(collections, name, getattr(collections.abc, name))


def import_experta() -> ModuleType:
    """Import experta with the shim in place, and keep its logging quiet.

    Importing experta calls ``logging.basicConfig()`` and its watchers log at
    DEBUG/INFO; hipkb undoes the one and silences the others until ``-v``
    turns them on (:func:`hipkb.engine.watchers.set_verbose`).
    """
    patch_collections()
    root = logging.getLogger()
    had_handlers = bool(root.handlers)
    import experta

    if not had_handlers:
        # Undo experta's basicConfig so that hipkb's output stays its own.
        for handler in list(root.handlers):
            root.removeHandler(handler)
    from hipkb.engine.watchers import set_verbose

    set_verbose(0)
    return experta
