"""The references table: short forms resolve to full publications; documents never do."""

from __future__ import annotations

from pathlib import Path

import pytest

from hipkb.errors import RuleError
from hipkb.knowledge.references import numbered, parse_references, split_citations, unpublished

TABLE = {
    "format": "hipkb-references/1",
    "references": {
        "seedy": {"seed": True, "authors": "Runner R", "title": "Why does it hurt?", "publisher": "A blog"},
        "noakes1985": {"authors": "Noakes TD, Smith JA", "title": "Pelvic stress fractures in long distance runners",
                       "journal": "Am J Sports Med", "year": 1985, "volume": "13(2)", "pages": "120-123",
                       "cited_as": ["Noakes et al., AJSM 1985"]},
        "nice": {"authors": "NICE", "title": "Hip fracture: management", "publisher": "NICE, London", "year": 2011,
                 "cited_as": ["NICE CG124"]},
        "nice-long": {"authors": "NICE", "title": "Another", "publisher": "NICE", "year": 2012,
                      "cited_as": ["NICE CG124 update"]},
    },
}


def test_citations_split_at_semicolons_outside_brackets():
    assert split_citations("A (x; y); B;  C  ") == ["A (x; y)", "B", "C"]
    assert split_citations("Reiman et al., BJSM 2013 (clinical tests of the hip; intra-articular pain)") == [
        "Reiman et al., BJSM 2013 (clinical tests of the hip; intra-articular pain)"]


def test_short_forms_seed_sections_and_documents_resolve_as_they_should():
    refs = parse_references(TABLE, "references.yaml")
    found = refs.resolve("Noakes et al., AJSM 1985 (pubic ramus); seed: Symptom Behavior; knowledge.md §7 (x); "
                         "NICE CG124, 2011; NICE CG124 update; Nobody et al., 1999")
    assert [(c.key, c.detail) for c in found] == [
        ("noakes1985", "(pubic ramus)"), ("seedy", "Symptom Behavior"), (None, ""), ("nice", "2011"),
        ("nice-long", ""), (None, "")]
    # A form matches as a whole word: "NICE CG1240" is not "NICE CG124".
    assert refs.resolve("NICE CG1240")[0].key is None
    assert unpublished("knowledge.md §3") and unpublished("see notes.txt") and not unpublished("NICE NG226, 2022")


def test_full_references_read_as_a_reference_list():
    refs = parse_references(TABLE, "references.yaml")
    assert refs.entries["noakes1985"].text == (
        "Noakes TD, Smith JA. Pelvic stress fractures in long distance runners. Am J Sports Med 1985;13(2):120-123.")
    assert refs.entries["seedy"].text == "Runner R. Why does it hurt? A blog; undated."
    items, numbers = numbered(refs, ["seed: Introduction", "Noakes et al., AJSM 1985; seed: Closing Thoughts",
                                     "knowledge.md §7"])
    assert [(i["n"], i["key"]) for i in items] == [(1, "seedy"), (2, "noakes1985")]
    assert numbers == {"seedy": 1, "noakes1985": 2}
    assert numbered(None, ["Noakes et al., AJSM 1985"]) == ([], {})


@pytest.mark.parametrize(("change", "where", "message"), [
    ({"format": "x"}, "format", "expected format: hipkb-references/1"),
    ({"extra": 1}, "extra", "unknown key"),
    ({"references": {"Bad Key": {"title": "t", "cited_as": ["x"]}}}, "references.Bad Key", "lower case"),
    ({"references": {"a": {"cited_as": ["x"]}}}, "references.a.title", "needs its title"),
    ({"references": {"a": {"title": "t"}}}, "references.a.cited_as", "short forms"),
    ({"references": {"a": {"title": "t", "cited_as": ["x"], "year": "1985"}}}, "references.a.year", "a year"),
    ({"references": {"a": {"title": "t", "cited_as": ["x"], "editor": "y"}}}, "references.a.editor", "unknown key"),
    ({"references": {"a": {"title": "t", "cited_as": ["X  y"]}, "b": {"title": "u", "cited_as": ["x y"]}}},
     "references.b.cited_as", "already names a"),
    ({"references": {"a": {"title": "t", "seed": True}, "b": {"title": "u", "seed": True}}},
     "references.b.seed", "only one seed article"),
])
def test_a_bad_table_is_one_error_naming_the_field(change, where, message):
    with pytest.raises(RuleError) as error:
        parse_references({**TABLE, **change}, "references.yaml")
    assert error.value.where == where and message in error.value.message


def test_the_shipped_table_names_the_seed_article_in_full(kb):
    seed = kb.references.seed
    assert seed is not None and "Rimmer" in seed.authors
    assert seed.text.startswith("Rimmer S") and "Why does my hip hurt when I run?" in seed.text
    assert "Run Potential Rehab & Performance" in seed.text
    # Every short form the shipped sources use is in the table, but documents nobody can get.
    sources = [r.source for r in kb.rules] + [h.source for h in kb.hypotheses.values() if h.source]
    for source in sources:
        for citation in kb.references.resolve(source):
            assert citation.key is not None or unpublished(citation.text), citation.text


def test_no_shipped_source_cites_a_document_or_an_unknown_short_form(kb):
    """Issue 21: every citation of every shipped source (rules, kb.yaml, teaching.yaml) names a publication the
    table holds; no ``unsourced`` finding is allowed away in kb.yaml, and no rule file names knowledge.md."""
    from hipkb.verify.sources import source_findings

    assert [f for f in source_findings(kb) if f.kind == "unsourced"] == []
    rules_dir = Path(kb.rules_dir)
    assert "finding: unsourced" not in (rules_dir / "kb.yaml").read_text(encoding="utf-8")
    for path in sorted(rules_dir.glob("*.yaml")):
        if path.name != "references.yaml":
            assert "knowledge.md" not in path.read_text(encoding="utf-8"), path.name
