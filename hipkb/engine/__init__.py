"""The inference engine: every contact with experta lives in this package.

- :mod:`~hipkb.engine.experta_shim`: makes experta import on Python >= 3.10;
- :mod:`~hipkb.engine.watchers`: experta's log watchers, quiet unless ``-v``;
- :mod:`~hipkb.engine.templates`: fact templates (CLIPS ``deftemplate``);
- :mod:`~hipkb.engine.compiler`: rules to experta ``Rule`` objects (``defrule``);
- :mod:`~hipkb.engine.matcher`: a matcher for patterns that share no variables (alpha tests, an
  index on constants, joins without tests); experta's own Rete matcher is the reference;
- :mod:`~hipkb.engine.factlist`: working memory (CLIPS fact-list), hipkb's plain facts declared cheaply;
- :mod:`~hipkb.engine.strategy`: conflict resolution (CLIPS depth strategy);
- :mod:`~hipkb.engine.certainty`: MYCIN certainty factors;
- :mod:`~hipkb.engine.record`: what one run concluded and why;
- :mod:`~hipkb.engine.reasoner`: build once per knowledge base, run per case.

It reads the knowledge base (:mod:`hipkb.knowledge`) and knows nothing of
results, reports or the faces.
"""
