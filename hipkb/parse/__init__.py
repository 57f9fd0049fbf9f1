"""Strict parsing of text from outside, below everything that reads it: one module per job.

Case files, rule files, the vocabulary and request bodies come from outside
the project; knowledge and load both read them through here, and nothing
here knows what they mean:

- :mod:`.reading`: bounded reading (a regular file only, at most
  :data:`~.bounds.MAX_BYTES`) and UTF-8 decoding;
- :mod:`.jsontext`: strict JSON (no duplicate key, no NaN);
- :mod:`.yamltext`: strict YAML, the reference path (PyYAML's composer with
  hipkb's checks, on PyYAML's own scanner or libyaml's events), which words
  every refusal; :mod:`.yamlfast`: libyaml's composed nodes walked once, for
  text the reference path would take as it is; :mod:`.yamlrules`: what both
  hold a scalar to;
- :mod:`.text`: the entry (:func:`~.text.parse_text`, :func:`~.text.load_file`)
  and the checks every format shares (size, depth, valid Unicode);
- :mod:`.bounds`: how large, how deep, how far aliases expand.
"""
