"""The sample knowledge base the report, explain and interview tests share, and a case run on it.

A small knowledge base with one rule of each kind the reports explain (a
pattern, a red flag, evidence for and against, triage, running,
avoid_asking), so that those tests pin down red flags, evidence against and
WHY NOT without depending on the shipped rules.
"""

from __future__ import annotations

from pathlib import Path

from hipkb import api
from hipkb.load.case import validate
from hipkb.results.result import build_result

SAMPLE_MANIFEST = """\
format: hipkb-kb/1
name: sample-kb
version: 0.1.0
hypotheses:
  femoral_neck_bsi:
    label: Femoral neck bone stress injury
  gluteus_medius_tendinopathy:
    label: Gluteus medius tendinopathy
  lumbar_referred_pain:
    label: Referred pain from the lumbar spine
  hip_flexor_strain:
    label: Hip flexor muscle strain
derived:
  load_response:
    label: How the pain responds to running load
    values:
      bone: bone-type
      soft_tissue: soft-tissue-type
red_flags:
  possible_cauda_equina:
    label: Possible cauda equina syndrome
    emergency: true
  night_pain:
    label: Pain at rest at night
"""

SAMPLE_RULES = """\
topic: Sample
rules:
  - id: LOAD-BONE
    title: Pain that builds and lingers behaves like bone
    source: "Sample source: load"
    when: {behaviour.during_run: worsens, behaviour.after_run: lingers}
    then: {derive: {load_response: bone}}
  - id: LOAD-SOFT
    title: Pain that warms up behaves like soft tissue
    source: "Sample source: load"
    when: {behaviour.during_run: warms_up}
    then: {derive: {load_response: soft_tissue}}
  - id: RF-CES
    title: Saddle numbness
    source: "Sample source: red flags"
    when: {neuro.saddle_numbness: "yes"}
    then: {red_flag: possible_cauda_equina}
  - id: RF-NIGHT
    title: Night pain
    source: "Sample source: red flags"
    when: {behaviour.night_pain: "yes"}
    then: {red_flag: night_pain}
  - id: FN-BONE
    title: Groin pain <em>with</em> a bone-type load response & more
    source: "Sample source: <b>FN</b>"
    when: {pain.regions: {any: [groin, lateral_hip]}, load_response: bone}
    then: {supports: femoral_neck_bsi, weight: 0.6}
  - id: FN-HOP-FREE
    title: Hopping is pain free
    source: "Sample source: FN"
    when: {behaviour.hopping: pain_free}
    then: {against: femoral_neck_bsi, weight: 0.3}
  - id: GM-LATERAL
    title: Lateral hip pain
    source: "Sample source: GM"
    when: {pain.regions: {any: [lateral_hip]}}
    then: {supports: gluteus_medius_tendinopathy, weight: 0.4}
  - id: GM-AGAINST-BONE
    title: Bone-type pain points away from a tendon
    source: "Sample source: GM"
    when: {load_response: bone}
    then: {against: gluteus_medius_tendinopathy, weight: 0.4}
  - id: LUMBAR-NUMB
    title: Numbness with low back pain
    source: "Sample source: lumbar"
    when: {neuro.numbness: "yes", pain.regions: {any: [lower_back, buttock, groin]}}
    then: {supports: lumbar_referred_pain, weight: 0.5}
  - id: HFS-SPRINT
    title: Pain after a sprint
    source: "Sample source: strain"
    when: {history.mechanism: sprint}
    then: {supports: hip_flexor_strain, weight: 0.5}
  - id: TRIAGE-CES
    title: Cauda equina is an emergency
    source: "Sample source: triage"
    when: {red_flag: possible_cauda_equina}
    then: {triage: emergency, summary: "Emergency care now: possible cauda equina syndrome."}
  - id: TRIAGE-FN
    title: A possible femoral neck stress injury is urgent
    source: "Sample source: triage"
    when: {hypothesis.femoral_neck_bsi: {at_least: possible}}
    then: {triage: urgent, summary: "Stop running and see a clinician promptly."}
  - id: TRIAGE-DEFAULT
    title: Routine assessment
    source: "Sample source: triage"
    then: {triage: routine, summary: "See a clinician if it does not settle."}
  - id: RUN-STOP-FN
    title: Stop running with a possible femoral neck stress injury
    source: "Sample source: running"
    when: {hypothesis.femoral_neck_bsi: {at_least: possible}}
    then: {running: stop, reason: "Loading a femoral neck stress injury can turn it into a fracture."}
  - id: RUN-STOP-FLAG
    title: Stop running with a red flag
    source: "Sample source: running"
    when: {red_flag: any}
    then: {running: stop}
  - id: AVOID-HOP
    title: Do not hop-test a possible femoral neck stress injury
    source: "Sample source: safety"
    when: {hypothesis.femoral_neck_bsi: {at_least: possible}}
    then: {avoid_asking: [behaviour.hopping, exam.single_leg_hop]}
"""


def write_sample_kb(directory: Path) -> Path:
    """Write the sample rules directory under *directory* and return it."""
    rules = directory / "sample-rules"
    rules.mkdir(parents=True, exist_ok=True)
    (rules / "kb.yaml").write_text(SAMPLE_MANIFEST, encoding="utf-8")
    (rules / "sample.yaml").write_text(SAMPLE_RULES, encoding="utf-8")
    return rules


def infer(kb, data: dict, source: str = "<test>"):
    """The inference and the result of *data* on *kb*."""
    case = validate(data, kb.vocabulary, source, hypotheses=kb.hypotheses)
    inference = api.reasoner_for(kb).infer(case)
    return inference, build_result(kb, inference)


RED_FLAG_CASE = {
    "case_id": "red-flag",
    "pain": {"regions": ["groin", "lower_back"]},
    "behaviour": {"during_run": "worsens", "after_run": "lingers", "night_pain": "yes"},
    "neuro": {"saddle_numbness": "yes", "numbness": "yes"},
}
BONE_CASE = {
    "case_id": "bone",
    "pain": {"regions": ["groin"], "origin": "groin"},
    "behaviour": {"during_run": "worsens", "after_run": "lingers"},
}
