"""FHIR R4 out: the case form, and results as a Bundle.

- :mod:`hipkb.fhir.codesystem`: hipkb's own canonical URLs, extensions and codings;
- :mod:`hipkb.fhir.questionnaire`: the ``Questionnaire`` generated from the vocabulary;
- :mod:`hipkb.fhir.bundle`: a result as a ``Bundle`` (``--format fhir``).

A ``QuestionnaireResponse`` to the form comes in as a case: the input layer
reads it (:mod:`hipkb.load.response`) before validation, as it reads YAML or
JSON; both sides of the form take its names from :mod:`hipkb.knowledge.form`.

Everything is written as plain JSON data: a plain install needs no FHIR
library (the tests validate every resource with ``fhir.resources``).
Uses :mod:`hipkb.load` and :mod:`hipkb.knowledge`; nothing below it uses it.
"""
