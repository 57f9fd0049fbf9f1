"""The inference engine: every contact with experta lives in this package.

- :mod:`~hipkb.engine.experta_shim`: makes experta import on Python >= 3.10;
- :mod:`~hipkb.engine.watchers`: experta's log watchers, quiet unless ``-v``;
- :mod:`~hipkb.engine.templates`: fact templates (CLIPS ``deftemplate``);
- :mod:`~hipkb.engine.compiler`: rules to experta ``Rule`` objects (``defrule``);
- :mod:`~hipkb.engine.matcher`: experta's Rete network with per-case overheads removed;
- :mod:`~hipkb.engine.strategy`: conflict resolution (CLIPS depth strategy);
- :mod:`~hipkb.engine.certainty`: MYCIN certainty factors;
- :mod:`~hipkb.engine.record`: what one run concluded and why;
- :mod:`~hipkb.engine.reasoner`: build once per knowledge base, run per case.

It reads the knowledge base (:mod:`hipkb.knowledge`) and knows nothing of
results, reports or the faces.
"""
