"""Loading: strict YAML and JSON, case files, and the inputs of a batch.

Everything that turns bytes from outside into hipkb's data goes through here,
and is refused with one line naming the file and the field when it is wrong.
Reads the vocabulary (:mod:`hipkb.knowledge`); knows nothing of the engine.
"""
