"""FHIR R4 in and out: the case form, responses to it as cases, results as a Bundle.

- :mod:`hipkb.fhir.codesystem`: hipkb's own canonical URLs and code system;
- :mod:`hipkb.fhir.questionnaire`: the ``Questionnaire`` generated from the vocabulary;
- :mod:`hipkb.fhir.response`: a ``QuestionnaireResponse`` to it, read as a case
  with the same strict checks as a case file;
- :mod:`hipkb.fhir.bundle`: a result as a ``Bundle`` (``--format fhir``).

Everything is written as plain JSON data: a plain install needs no FHIR
library (the tests validate every resource with ``fhir.resources``).
Uses :mod:`hipkb.load` and :mod:`hipkb.knowledge`; :mod:`hipkb.load.case`
hands a parsed ``QuestionnaireResponse`` to :mod:`hipkb.fhir.response`.
"""
