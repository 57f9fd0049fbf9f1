"""The report model: what a narrative report says, as plain data, before any template.

:func:`build_model` maps one case's result (``hipkb-result/1``), its
inference record and the knowledge base to a dict of dicts, lists, strings
and numbers. Templates in ``reports/`` only lay it out; they never compute,
so every format (md, html, txt) and every custom template says the same thing.

What maps to what:

==================  ===============================================================
model key           from
==================  ===============================================================
``red_flags``       ``result["red_flags"]`` + rule titles and sources from the kb
``referrals``       ``result["referrals"]`` + the rules behind them
``triage``          ``result["triage"]`` + the rules behind it
``running``         ``result["running"]`` + the rules behind it
``hypotheses``      ``result["hypotheses"]`` (ranked, with codes) + kb descriptions, facts in words
``next_questions``  ``result["next_questions"]``
``known``           the case's findings, grouped as the vocabulary groups them
``unknown``         every vocabulary field the case did not give, grouped
``bodymap``         ``pain.regions`` and ``pain.origin`` -> :func:`hipkb.report.svg.body_map`
``graph``           justifications in the inference -> :func:`hipkb.report.svg.layout_graph`
``steps``           ``inference.firings`` (educator)
``derived``         ``inference.derived`` with its justifications (educator)
``why_not``         each kb hypothesis not in the result -> :func:`hipkb.results.explain.why_not`
``how_top``         the top hypothesis unfolded to findings -> :func:`hipkb.results.explain.how`
``decisions``       what triage and running rest on; a note when that is not the top hypothesis
``certainty_note``  what a certainty is (and is not)
``what_if``         single-finding changes that change the call -> :func:`hipkb.results.whatif.what_if` (educator)
``teaching``        learning points of the ranked hypotheses, from ``rules/teaching.yaml`` (educator)
``encounter``       the case's encounter (date, clinician, record id, setting, notes), for the header
``assessment``      the one page of assessment -> :func:`hipkb.report.assessment.assessment`
``exclusions``      ``result["exclusions"]`` (None without it): each alarm hypothesis's status, its rules,
                    the questions that would exclude it (loading tests withheld) and its votes in words
``references``      the publications the report cites, numbered -> :mod:`hipkb.knowledge.references`
``rules_cited``     every rule the report cites, by id, for the appendix ("How hipkb reasoned")
``fired``           ``result["fired"]``: every firing, for the appendix
``derived_facts``   ``result["derived"]``: each derived fact with its rules, for the appendix
``fired_text``      the same two as lines of text (``derived_text``); ``hypotheses[].ids_text`` its rules
==================  ===============================================================

Reports are read by clinicians: outside the appendix they speak in the
knowledge base's words (:mod:`hipkb.report.words`). Each evidence item, red
flag and next question carries ``words`` (its findings or its reason in
plain words) beside the ids the appendix shows; each cited rule carries
``refs``, the numbers of its publications in ``references``.
"""

from __future__ import annotations

from typing import Any

from hipkb import __version__
from hipkb.engine.reasoner import reasoner_for
from hipkb.engine.record import Inference
from hipkb.knowledge import conditions as cond
from hipkb.knowledge.encounter import encounter_items
from hipkb.knowledge.references import numbered
from hipkb.knowledge.rules import KnowledgeBase
from hipkb.report.assessment import ALL_STATUS_WORDS, assessment, exclusion_steps
from hipkb.report.output import AUDIENCES
from hipkb.report.svg import body_map, layout_graph
from hipkb.report.words import advice_words, finding_words, level_words, plain
from hipkb.results import explain as ex
from hipkb.results.partial import Analyzer
from hipkb.results.whatif import what_if

DISCLAIMER = ("Decision support, not a diagnosis: hipkb reasons only from what the case says, "
              "with rules a clinician can read; a clinician makes the call.")
CERTAINTY_NOTE = ("Certainty is a combined belief score, not a probability: the weights of the rules "
                  "for and against a hypothesis are pooled with MYCIN's certainty-factor algebra "
                  "(EMYCIN form). It says how strongly the evidence found points to a hypothesis; "
                  "the scores of different hypotheses do not add up to 1, and a low score is not a "
                  "small chance.")


def build_model(kb: KnowledgeBase, inference: Inference, result: dict[str, Any], *,
                audience: str = "clinician") -> dict[str, Any]:
    """Everything a report shows, for *audience* (``clinician`` or ``educator``)."""
    if audience not in AUDIENCES:
        raise ValueError(f"audience must be one of {', '.join(AUDIENCES)}")
    educator = audience == "educator"
    case = inference.case
    regions_field = kb.vocabulary.fields.get("pain.regions")
    region_labels = dict(regions_field.values) if regions_field else {}
    raw_regions = case.get("pain.regions")
    regions: tuple[str, ...] = raw_regions if isinstance(raw_regions, tuple) else ()
    origin = case.get("pain.origin")
    model: dict[str, Any] = {
        "case_id": result["case_id"],
        "audience": audience,
        "educator": educator,
        "title": f"hipkb report: {result['case_id']}",
        "kb": dict(result["kb"]),
        "hipkb_version": __version__,
        "disclaimer": DISCLAIMER,
        "warnings": list(result.get("warnings", [])),
        "findings_count": dict(result.get("findings", {})),
        "red_flags": [_red_flag(kb, f) for f in result["red_flags"]],
        "referrals": [{"id": r["id"], "label": r["label"], "reason": r["reason"], "rules": _rules(kb, r["because"])}
                      for r in result.get("referrals", [])],
        "triage": _triage(kb, result),
        "running": _running(kb, result),
        "hypotheses": [_hypothesis(kb, h, rank) for rank, h in enumerate(result["hypotheses"], start=1)],
        "next_questions": [
            {**q, "words": ex.field_words(q["fact"]), "why_words": plain(kb, q.get("why", ""))}
            for q in result["next_questions"]
        ],
        "known": _known(kb, inference),
        "unknown": _unknown(kb, inference),
        "regions": [region_labels.get(r, r) for r in regions],
        "origin": region_labels.get(str(origin), str(origin)) if origin else None,
        "bodymap": body_map(regions, str(origin) if origin else None, region_labels,
                            str(case.get("pain.side")) if case.get("pain.side") else None),
    }
    model["top"] = model["hypotheses"][0] if model["hypotheses"] else None
    model["decisions"] = decisions(kb, inference)
    model["encounter"] = encounter_items(case.encounter)
    model["date"] = (case.encounter or {}).get("date", "")
    model["assessment"] = assessment(kb, result, model["decisions"])
    model["exclusions"] = _exclusions(kb, result)
    model["fired"] = [{"step": f["step"], "rule": f["rule"], "asserted": f["asserted"]} for f in result["fired"]]
    model["derived_facts"] = [{"fact": d["fact"], "rules": sorted({b["rule"] for b in d["because"]})}
                              for d in result["derived"]]
    # The appendix's long lists as one block of text each: a report lays them out verbatim.
    model["fired_text"] = "\n".join(f"{f['step']:>3}. {f['rule']} -> {f['asserted']}" for f in result["fired"])
    model["derived_text"] = "\n".join(f"{d['fact']} <- {', '.join(d['rules'])}" for d in model["derived_facts"])
    for h in model["hypotheses"]:
        h["ids_text"] = "; ".join([*(f"+{e['weight']:g} {e['rule']['id']}" for e in h["support"]),
                                   *(f"-{e['weight']:g} {e['rule']['id']}" for e in h["against"])])
    model["certainty_note"] = CERTAINTY_NOTE
    model["unknown_count"] = sum(len(g["fields"]) for g in model["unknown"])
    model["graph"] = reasoning_graph(kb, inference)
    if educator:
        model["steps"] = ex.trace(kb, inference)
        model["derived"] = [
            {"fact": d["fact"], "text": ex.fact_text(kb, d["fact"]),
             "because": [{"rule": ex.rule_ref(kb, b["rule"]),
                          "facts": [ex.fact_item(kb, f) for f in b["facts"]]} for b in d["because"]]}
            for d in result["derived"]
        ]
        concluded = {h["id"] for h in result["hypotheses"]}
        analyzer = Analyzer(kb, inference)
        model["why_not"] = [ex.why_not(kb, inference, hid, analyzer) for hid in kb.hypotheses if hid not in concluded]
        for info in model["why_not"]:
            for group in info["ruled_out_groups"]:
                # One line per group: every condition that failed, then (in
                # the template) the rules they rule out, never split apart.
                group["unmet_text"] = "; and ".join(
                    f"needs {u['condition']}; " + (f"the case says {u['found']}" if u["found"] else u["note"])
                    for u in group["unmet"])
        model["how_top"] = ex.how(kb, inference, model["top"]["id"]) if model["top"] else None
        model["what_if"] = what_if(reasoner_for(kb), inference.case, inference)
        model["teaching"] = [
            {"id": h["id"], "label": h["label"], **kb.teaching[h["id"]].to_dict()}
            for h in result["hypotheses"] if h["id"] in kb.teaching
        ]
    else:
        model["steps"], model["derived"], model["why_not"], model["how_top"] = [], [], [], None
        model["what_if"], model["teaching"] = None, []
    if model["what_if"]:
        for change in model["what_if"]["changes"]:
            change["effect_words"] = _effect_words(kb, change)
    _cite(kb, model)
    return model


def _effect_words(kb: KnowledgeBase, change: dict[str, Any]) -> str:
    """What a change of one finding does, in words: ``triage self-care -> routine``."""
    said = []
    for aspect, effect in change.get("effects", {}).items():
        if aspect == "triage":
            said.append(f"triage {level_words(effect['from']).lower()} → {level_words(effect['to']).lower()}")
        elif aspect == "running":
            said.append(f"running: {advice_words(effect['from']).lower()} → {advice_words(effect['to']).lower()}")
        else:
            names = [kb.hypotheses[h].label if h in kb.hypotheses else "none" for h in (effect["from"], effect["to"])]
            said.append(f"top hypothesis {names[0]} → {names[1]}")
    return "; ".join(said) or plain(kb, change.get("effect_text", ""))


def _cite(kb: KnowledgeBase, model: dict[str, Any]) -> None:
    """Number the publications the report cites, in the order its evidence cites them.

    Every cited rule (a dict of :func:`hipkb.results.explain.rule_ref`) gets
    ``refs``, the numbers of its publications; the model gets
    ``references`` (the numbered list the report ends with) and
    ``rules_cited`` (each rule once, by id, for the appendix). Rules cited
    only in the appendix are numbered after the evidence's.
    """
    decided: list[dict[str, Any]] = []
    for flag in model["red_flags"]:
        decided += flag["rules"]
    for referral in model["referrals"]:
        decided += referral["rules"]
    decided += model["triage"]["rules"] + model["running"]["rules"]
    for item in model["exclusions"] or ():
        decided += item["rules"] + [v["rule"] for v in item["votes"]]
    weighed = [e["rule"] for h in model["hypotheses"] for e in (*h["support"], *h["against"])]
    appendix: list[dict[str, Any]] = [step["rule"] for step in model["steps"]]
    appendix += _how_rules(model["how_top"])
    for d in model["derived"]:
        appendix += [b["rule"] for b in d["because"]]
    for w in model["why_not"]:
        appendix += [e["rule"] for e in (*w["against"], *w["support"])]
        for group in w["ruled_out_groups"]:
            appendix += group["rules"]
    sources = [r["source"] for r in decided]
    for h in model["hypotheses"]:
        sources += [h["source"], *(e["rule"]["source"] for e in (*h["support"], *h["against"]))]
    sources += [t["source"] for t in model["teaching"]] + [r["source"] for r in appendix]
    model["references"], numbers = numbered(kb.references, sources)

    def refs(source: str) -> list[int]:
        if kb.references is None or not source:
            return []
        found = [numbers[c.key] for c in kb.references.resolve(source) if c.key in numbers]
        return sorted(dict.fromkeys(found))

    cited: dict[str, dict[str, Any]] = {}
    for rule in (*decided, *weighed, *appendix):
        rule["refs"] = refs(rule["source"])
        cited.setdefault(rule["id"], rule)
    for h in model["hypotheses"]:
        h["refs"] = refs(h["source"])
    for t in model["teaching"]:
        t["refs"] = refs(t["source"])
    model["rules_cited"] = [cited[rid] for rid in sorted(cited)]


def _how_rules(node: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The rules of a HOW tree, depth first."""
    if node is None:
        return []
    found = []
    for step in node["because"]:
        found.append(step["rule"])
        for child in step["facts"]:
            found += _how_rules(child)
    return found


def reasoning_graph(kb: KnowledgeBase, inference: Inference) -> dict[str, Any]:
    """The reasoning graph of one case with its layout, as reports and the case page draw it."""
    graph = _graph(kb, inference)
    layout = layout_graph(graph["nodes"], graph["edges"])
    return {**graph, "layout": layout, "chains": _chains(graph, layout)}


def decisions(kb: KnowledgeBase, inference: Inference) -> dict[str, dict[str, Any]]:
    """What the triage and the running advice rest on, and a note when it is not the top hypothesis.

    For each decision: the hypotheses and red flags its winning rules read
    (``hypotheses``: ``[{"id", "label", "rank", "band"}]``, ``red_flags``)
    and ``note``, the sentence a report prints. A decision that follows a
    hypothesis ranked below the first says so, and why: safety first, the
    most urgent conclusion wins, and a possible bone stress injury is enough
    to act on whatever fits the findings best.
    """
    ranked = inference.ranked()
    rank = {s.hypothesis: i for i, s in enumerate(ranked, start=1)}
    top = ranked[0].hypothesis if ranked else None
    out: dict[str, dict[str, Any]] = {}
    for kind, choice in (("triage", inference.triage), ("running", inference.running)):
        read_h: list[str] = []
        read_f: list[str] = []
        read_s: list[str] = []
        alarms = kb.safety.alarm_hypotheses
        for rid in (choice.because if choice else ()):
            rule = kb.rule(rid)
            for c in (rule.conditions if rule else ()):
                # Safety first is said only of what it is about: an alarm hypothesis (a decision that
                # follows osteoarthritis ranked second is no safety decision).
                if c.kind == cond.HYPOTHESIS and c.subject in rank and c.subject in alarms \
                        and c.subject not in read_h:
                    read_h.append(c.subject)
                if c.kind == cond.STATUS and c.subject not in read_s and c.subject in inference.exclusions:
                    read_s.append(c.subject)
                if c.kind == cond.RED_FLAG:
                    read_f.extend(f for f in (c.values or tuple(inference.red_flags))
                                  if f in inference.red_flags and f not in read_f)
        hyps = [{"id": h, "label": kb.hypotheses[h].label, "rank": rank[h],
                 "band": inference.scores[h].band} for h in sorted(read_h, key=rank.__getitem__)]
        flags = [{"id": f, "label": kb.red_flags[f].label} for f in read_f]
        what = "The triage" if kind == "triage" else "The running advice"
        value = (choice.value if choice else "").replace("_", " ")
        note = ""
        if flags:
            note = (f"{what} ({value}) follows the red flag{'s' if len(flags) > 1 else ''} "
                    + ", ".join(f["label"] for f in flags)
                    + ", whatever the differential: safety first.")
        elif read_s and not hyps:
            labels = ", ".join(kb.hypotheses[h].label for h in read_s)
            note = (f"{what} ({value}) follows {labels}, not yet excluded: rule out the worst first. "
                    "Whatever ranks first, what must not be missed is acted on until the findings that "
                    "exclude it are recorded.")
        elif hyps and top is not None and all(h["id"] != top for h in hyps):
            h = hyps[0]
            note = (f"{what} ({value}) follows {h['label']}, ranked {h['rank']} ({h['band']}), not the "
                    f"top-ranked {kb.hypotheses[top].label}: safety first. The most urgent conclusion wins, "
                    f"and a {h['band']} {str(h['label']).lower()} is enough to act on; the ranking says what fits "
                    "the findings best, not what would be most harmful to miss.")
        out[kind] = {"hypotheses": hyps, "red_flags": flags, "note": note}
    triage, running = out["triage"], out["running"]
    if triage["note"] and running["note"] and (triage["hypotheses"], triage["red_flags"]) == (
            running["hypotheses"], running["red_flags"]):
        # One reason for both decisions: say it once.
        advice = (inference.running.value if inference.running else "").replace("_", " ")
        triage["note"] = triage["note"].replace(") follows", f") and the running advice ({advice}) follow", 1)
        running["note"] = ""
    return out


def _exclusions(kb: KnowledgeBase, result: dict[str, Any]) -> list[dict[str, Any]] | None:
    """Rule out the worst first, for the evidence and the appendix: every alarm hypothesis the result gives a
    status, with the findings and rules behind it and how each rule's findings moved it (its ``votes``).

    None when the result has no ``exclusions`` (an older result), not an empty list.
    """
    items = result.get("exclusions")
    if items is None:
        return None
    out = []
    for item in items:
        hyp = kb.hypotheses.get(item.get("id", ""))
        label = item.get("label") or (hyp.label if hyp else str(item.get("id", "")))
        status = str(item.get("status", ""))
        questions, withheld = exclusion_steps(kb, item)
        winners = set(item.get("because", []))
        votes = [{"status": v.get("status", ""),
                  "status_words": ALL_STATUS_WORDS.get(v.get("status", ""), str(v.get("status", ""))),
                  "rule": ex.rule_ref(kb, v["rule"]), "decided": v["rule"] in winners,
                  "facts": list(v.get("facts", [])),
                  "words": "; ".join(dict.fromkeys(finding_words(kb, f) for f in v.get("facts", [])))}
                 for v in item.get("votes", [])]
        out.append({"id": item.get("id", ""), "label": label, "status": status,
                    "status_words": ALL_STATUS_WORDS.get(status, status),
                    "facts": list(item.get("facts", [])),
                    "words": "; ".join(dict.fromkeys(finding_words(kb, f) for f in item.get("facts", []))),
                    "rules": _rules(kb, list(item.get("because", []))),
                    "to_exclude": questions if status != "excluded" else [],
                    "withheld": withheld if status != "excluded" else [],
                    "votes": votes})
        ids = ", ".join(item.get("because", [])) or "no rule"
        facts = ", ".join(item.get("facts", []))
        out[-1]["ids_text"] = "; ".join([ids + (f" matched {facts}" if facts else ""),
                                         *(f"{v['rule']['id']} votes {v['status']}" for v in votes)])
    return out


def _rules(kb: KnowledgeBase, ids: list[str]) -> list[dict[str, str]]:
    return [ex.rule_ref(kb, rid) for rid in ids]


def _red_flag(kb: KnowledgeBase, flag: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": flag["id"], "label": flag.get("label") or kb.red_flags[flag["id"]].label,
        "emergency": bool(flag.get("emergency")),
        "facts": [ex.fact_item(kb, f) for f in flag["facts"]],
        "words": "; ".join(dict.fromkeys(finding_words(kb, f) for f in flag["facts"])),
        "rules": _rules(kb, flag["because"]),
    }


def _triage(kb: KnowledgeBase, result: dict[str, Any]) -> dict[str, Any]:
    t = result["triage"]
    return {"level": t["level"], "words": level_words(t["level"]), "text": ex.TRIAGE_TEXT.get(t["level"], t["level"]),
            "summary": t.get("summary", ""), "rules": _rules(kb, t["because"]),
            "default": not t["because"]}


def _running(kb: KnowledgeBase, result: dict[str, Any]) -> dict[str, Any]:
    r = result["running"]
    return {"advice": r["advice"], "words": advice_words(r["advice"]),
            "text": ex.RUNNING_TEXT.get(r["advice"], r["advice"]),
            "reasons": list(r.get("reasons", [])), "rules": _rules(kb, r["because"]),
            "default": not r["because"]}


def _evidence(kb: KnowledgeBase, item: dict[str, Any]) -> dict[str, Any]:
    rule = ex.rule_ref(kb, item["rule"])
    return {"rule": rule, "weight": item["weight"], "facts": [ex.fact_item(kb, f) for f in item["facts"]],
            "words": "; ".join(dict.fromkeys(finding_words(kb, f) for f in item["facts"]))}


def _hypothesis(kb: KnowledgeBase, h: dict[str, Any], rank: int) -> dict[str, Any]:
    hyp = kb.hypotheses.get(h["id"])
    return {
        "rank": rank, "id": h["id"], "label": h["label"], "band": h["band"],
        "certainty": h["certainty"], "certainty_text": f"{h['certainty']:.2f}",
        "percent": round(h["certainty"] * 100),
        "description": hyp.description if hyp else "", "source": hyp.source if hyp else "",
        "codes": [_code(c) for c in h.get("codes", [])],
        "support": [_evidence(kb, e) for e in h["support"]],
        "against": [_evidence(kb, e) for e in h["against"]],
    }


CODE_SYSTEM_NAMES = {"http://hl7.org/fhir/sid/icd-10-cm": "ICD-10-CM", "http://snomed.info/sct": "SNOMED CT"}


def _code(code: dict[str, Any]) -> dict[str, Any]:
    name = CODE_SYSTEM_NAMES.get(code["system"], code["system"])
    approximate = bool(code.get("approximate"))
    return {"system": name, "code": code["code"], "display": code["display"], "approximate": approximate,
            "text": f"{name} {code['code']} {code['display']}" + (" (nearest broader concept)" if approximate else "")}


def _known(kb: KnowledgeBase, inference: Inference) -> list[dict[str, Any]]:
    groups = []
    for gname, group in kb.vocabulary.groups.items():
        items = []
        for fname, field in group.fields.items():
            value = inference.case.get(f"{gname}.{fname}")
            if value is None:
                continue
            if isinstance(value, tuple):
                text = ", ".join(field.values.get(v, v) for v in value) or "none"
                raw = ",".join(value)
            else:
                text = field.values.get(str(value), f"{value:g}" if isinstance(value, float) else str(value))
                raw = str(value)
            items.append({"fact": f"{gname}.{fname}", "words": ex.field_words(f"{gname}.{fname}"),
                          "value": raw, "text": text})
        if items:
            groups.append({"group": gname, "label": group.label, "items": items})
    return groups


def _unknown(kb: KnowledgeBase, inference: Inference) -> list[dict[str, Any]]:
    groups = []
    for gname, group in kb.vocabulary.groups.items():
        fields = [
            {"fact": f.path, "words": ex.field_words(f.path), "question": f.question}
            for f in group.fields.values()
            if f.type not in ("text", "expect") and inference.case.get(f.path) is None
        ]
        if fields:
            groups.append({"group": gname, "label": group.label, "fields": fields})
    return groups


# -- the reasoning graph -----------------------------------------------------

def _chains(graph: dict[str, Any], layout: dict[str, Any]) -> list[dict[str, Any]]:
    """The graph as text: each conclusion, left to right, with the rules and facts that led to it."""
    labels = {n["id"]: n["label"] for n in graph["nodes"]}
    nodes = {n["id"]: n for n in graph["nodes"]}
    chains = []
    for box in layout["nodes"]:
        incoming = [e for e in graph["edges"] if e["target"] == box["id"]]
        node = nodes[box["id"]]
        if node["kind"] == "finding":
            continue
        by: dict[tuple[str, str], list[str]] = {}
        for e in incoming:
            by.setdefault((e["rule"], e["sign"]), []).append(labels[e["source"]])
        chains.append({
            "id": box["id"], "kind": node["kind"], "label": node["label"], "sub": node["sub"],
            "by": [{"rule": rule, "sign": sign, "from": sources} for (rule, sign), sources in by.items()],
        })
    return chains


def _node_key(fact: str) -> str:
    """Hypotheses and red flags are one node whatever band or fact string names them."""
    name, _, value = fact.partition("=")
    if name.startswith("hypothesis."):
        return "hypothesis:" + name[len("hypothesis."):]
    if name == "red_flag":
        return "red_flag:" + value
    return fact


def _graph(kb: KnowledgeBase, inference: Inference) -> dict[str, Any]:
    """Findings -> patterns -> red flags and hypotheses -> triage and running, from justifications.

    Nodes get short ids (``n1``...) in sorted order of their keys, which keeps
    Mermaid and SVG ids safe and the output deterministic.
    """
    edges: list[dict[str, Any]] = []
    meta: dict[str, dict[str, Any]] = {}

    def node_for(fact: str) -> str:
        key = _node_key(fact)
        if key in meta:
            return key
        kind = ex.fact_kind(kb, fact)
        name, _, value = fact.partition("=")
        if kind == "finding":
            label, css = f"{ex.field_words(name)}: {value.replace('_', ' ')}", "finding"
        elif kind == "derived":
            label, css = f"{name.replace('_', ' ')}: {value.replace('_', ' ')}", "derived"
        else:
            label, css = ex.fact_text(kb, fact), kind
        meta[key] = {"kind": kind, "label": label, "sub": "", "title": f"{fact}: {ex.fact_text(kb, fact)}",
                     "css": css, "order": None}
        return key

    def link(facts: tuple[str, ...] | list[str], target: str, rule: str, sign: str = "") -> None:
        for fact in facts:
            edges.append({"source": node_for(fact), "target": target, "rule": rule, "sign": sign})

    for key, justs in sorted(inference.derived.items()):
        target = node_for(key)
        for j in justs:
            link(j.facts, target, j.rule)
    for flag, justs in sorted(inference.red_flags.items()):
        target = node_for(f"red_flag={flag}")
        meta[target]["css"] = "red_flag emergency" if kb.red_flags[flag].emergency else "red_flag"
        for j in justs:
            link(j.facts, target, j.rule)
    flags = sorted(inference.red_flags, key=lambda f: (not kb.red_flags[f].emergency, f))
    for index, flag in enumerate(flags):
        meta[_node_key(f"red_flag={flag}")]["order"] = index
    for rank, score in enumerate(inference.ranked(), start=len(flags)):
        target = node_for(f"hypothesis.{score.hypothesis}={score.band}")
        meta[target]["order"] = rank
        meta[target]["label"] = kb.hypotheses[score.hypothesis].label
        meta[target]["sub"] = f"{score.band} {score.certainty:.2f}"
        for e in score.evidence:
            link(e.facts, target, e.rule, "+" if e.cf > 0 else "-")
    for kind, choice, votes in (("triage", inference.triage, inference.triage_votes),
                                ("running", inference.running, inference.running_votes)):
        if choice is None:
            continue
        target = node_for(f"{kind}={choice.value}")
        meta[target]["order"] = 0 if kind == "triage" else 1
        meta[target]["label"] = f"{kind.capitalize()}: {choice.value.replace('_', ' ')}"
        for j in votes.get(choice.value, []):
            link(j.facts, target, j.rule)
    # Edges into hypotheses that did not make the ranking would dangle; the
    # node exists only if something links to a concluded target.
    ranked = {f"hypothesis:{s.hypothesis}" for s in inference.ranked()}
    keep = [edge for edge in edges if not (edge["source"].startswith("hypothesis:") and edge["source"] not in ranked)]
    seen: set[tuple[str, str, str, str]] = set()
    unique = []
    for edge in keep:
        k = (edge["source"], edge["target"], edge["rule"], edge["sign"])
        if k not in seen:
            seen.add(k)
            unique.append(edge)
    used = {edge["source"] for edge in unique} | {edge["target"] for edge in unique}
    used |= {k for k, m in meta.items() if m["kind"] in ("triage", "running", "red_flag")}
    used |= ranked
    short = {key: f"n{i}" for i, key in enumerate(sorted(k for k in meta if k in used), start=1)}
    nodes = [{"id": short[key], "key": key, **meta[key]} for key in sorted(short)]
    out_edges = [{"source": short[edge["source"]], "target": short[edge["target"]], "rule": edge["rule"],
                  "sign": edge["sign"]} for edge in unique]
    out_edges.sort(key=lambda e: (e["source"], e["target"], e["rule"]))
    return {"nodes": nodes, "edges": out_edges}
