"""A case as the engine sees it: known findings by group and field, nothing unknown.

Loading and validating case files is :mod:`hipkb.load.case`'s job; this is the
data it produces, which every later step (engine, results, reports) reads.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

#: The case file format this vocabulary describes.
CASE_FORMAT = "hipkb-case/1"

Value = str | int | float | tuple[str, ...]


@dataclass(frozen=True)
class Case:
    """A validated case: known findings by group and field, nothing unknown."""

    case_id: str
    findings: Mapping[str, Mapping[str, Value]]
    expect: Mapping[str, Any] | None = None
    source: str = ""
    meta: Mapping[str, Any] = field(default_factory=dict)
    #: The encounter (:mod:`hipkb.knowledge.encounter`): shown by reports, never reasoned on.
    encounter: Mapping[str, str] | None = None

    def facts(self) -> Iterator[tuple[str, Value]]:
        """Every known finding as (``group.field``, value), in a fixed order."""
        for group, values in self.findings.items():
            for name, value in values.items():
                yield f"{group}.{name}", value

    def get(self, path: str) -> Value | None:
        group, _, name = path.partition(".")
        return self.findings.get(group, {}).get(name)

    def to_data(self) -> dict[str, Any]:
        """The case as a hipkb-case/1 mapping (lists for sets)."""
        data: dict[str, Any] = {"format": CASE_FORMAT, "case_id": self.case_id}
        if self.encounter:
            data["encounter"] = dict(self.encounter)
        for group, values in self.findings.items():
            data[group] = {
                k: list(v) if isinstance(v, tuple) else v for k, v in values.items()
            }
        if self.expect:
            data["expect"] = {
                k: list(v) if isinstance(v, tuple) else v for k, v in self.expect.items()
            }
        return data
