"""Tools for researchers who test rule bases: hypothesis strategies and property checks.

``hipkb.testing.strategies`` draws valid case files; ``hipkb.testing.properties``
holds ready-made checks a researcher's own pytest can call on any rule directory;
``hipkb.testing.draws`` draws a fixed, seeded number of cases for the commands
that take ``--generated N`` (``hipkb compare``, ``hipkb sensitivity``).
"""
