"""The knowledge base as data: vocabulary, rules, conditions, scales, kinds.

Everything here describes what can be said about a case and what the rules
conclude from it, parsed and checked but never run: the CLIPS ``deftemplate``
and ``defrule`` text in parsed form. It imports nothing else of hipkb but
:mod:`hipkb.errors`.
"""
