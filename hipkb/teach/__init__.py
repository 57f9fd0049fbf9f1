"""Teaching a class: the case library, the staged reveal, feedback and handouts.

A wing above results and reports, below the faces (the CLI and the web app):

- :mod:`hipkb.teach.stages`: the stages a case unfolds in (history, symptom
  behaviour, examination, imaging), each a list of the vocabulary's groups,
  so a new field lands in its group's stage without code;
- :mod:`hipkb.teach.library`: the teaching cases of ``facts/teaching/``
  (a neutral title, a vignette per stage, tags, the teaching point, the case
  file behind it), loaded safely and checked, one line per problem;
- :mod:`hipkb.teach.reveal`: the case reasoned on at every stage with the
  findings known so far, and how each hypothesis's certainty and exclusion
  status moved between stages;
- :mod:`hipkb.teach.scoring`: what a student's commitment at a stage is worth
  against what hipkb concludes from the same findings;
- :mod:`hipkb.teach.feedback`: WHY NOT for any hypothesis a student picks, and
  the warning for a test that is unsafe while an alarm hypothesis is not
  excluded;
- :mod:`hipkb.teach.handout`: the student sheet and the answer key.

Nothing here decides anything clinical: every conclusion is the engine's, on
the knowledge base's rules; this wing only stages the findings and compares.
"""
