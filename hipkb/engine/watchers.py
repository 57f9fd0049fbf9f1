"""experta's watchers (CLIPS ``(watch rules)``, ``(watch facts)``): quiet unless asked for.

experta logs every rule firing, fact and agenda change through the loggers of
``experta.watchers``; hipkb keeps them silent, and ``-v`` / ``-vv`` on the
command line turns them on (:func:`set_verbose`).
"""

from __future__ import annotations

import logging

from hipkb.engine.experta_shim import patch_collections


def set_verbose(level: int) -> None:
    """0: experta silent; 1: rule firings; 2: also facts and agenda."""
    patch_collections()  # experta may not have been imported through the shim yet
    from experta import watchers

    watched = {1: ("RULES",), 2: ("RULES", "FACTS", "ACTIVATIONS", "AGENDA")}.get(level, ())
    for name in ("RULES", "FACTS", "ACTIVATIONS", "AGENDA", "MATCH", "MATCHER", "ENGINE"):
        logger = getattr(watchers, name, None)
        if logger is not None:
            logger.setLevel(logging.DEBUG if name in watched else logging.CRITICAL)
            logger.disabled = name not in watched
    if level:
        logging.basicConfig(format="experta %(name)s: %(message)s")
