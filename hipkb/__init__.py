"""hipkb: an expert system for reasoning about hip pain in runners.

The shell (this package) reads case files, compiles the knowledge base kept as
data in ``rules/`` and ``facts/`` into an experta engine, and reports what it
concludes and why. See :mod:`hipkb.api` for the library entry points.
"""

__version__ = "1.0.0"
