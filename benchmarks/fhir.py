"""What FHIR costs: reading a QuestionnaireResponse against YAML, writing a Bundle against JSON.

Run from the project root::

    python benchmarks/fhir.py

Over every example case in ``facts/cases`` (each also written as a
QuestionnaireResponse to ``hipkb questionnaire``'s form), it prints the median
time per case of: parsing and validating the case (YAML file, response
file), writing the result (``json``, ``fhir``), and the cold start of
``hipkb run`` on one case in each form and format.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from hipkb import api
from hipkb.fhir.questionnaire import questionnaire

ROOT = Path(__file__).resolve().parent.parent
ROUNDS = 20


def response(form: dict, data: dict, case_id: str) -> dict:
    items = [{"linkId": "case_id", "answer": [{"valueString": case_id}]}]
    for group in (item for item in form["item"] if item["type"] == "group"):
        children = []
        for child in group["item"]:
            value = (data.get(group["linkId"]) or {}).get(child["linkId"].split(".", 1)[1])
            if value is None or value == []:
                continue
            values = value if isinstance(value, list) else [value]
            if child["type"] == "choice":
                words = [{True: "yes", False: "no"}.get(v, v) if isinstance(v, bool) else v for v in values]
                options = {o["valueCoding"]["code"]: o["valueCoding"] for o in child["answerOption"]}
                answer = [{"valueCoding": options[w]} for w in words]
            else:
                answer = [{"valueInteger" if child["type"] == "integer" else "valueDecimal": value}]
            children.append({"linkId": child["linkId"], "answer": answer})
        if children:
            items.append({"linkId": group["linkId"], "item": children})
    return {"resourceType": "QuestionnaireResponse", "id": case_id,
            "questionnaire": f"{form['url']}|{form['version']}", "status": "completed", "item": items}


def median_ms(fn, items) -> float:
    times = []
    for _ in range(ROUNDS):
        for item in items:
            start = time.perf_counter()
            fn(item)
            times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def cold(args: list[str]) -> float:
    times = []
    for _ in range(7):
        start = time.perf_counter()
        subprocess.run([str(Path(sys.executable).parent / "hipkb"), *args], check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def main() -> None:
    kb = api.load_kb()
    reasoner = api.reasoner_for(kb)
    form = questionnaire(kb.vocabulary)
    cases = sorted((ROOT / "facts" / "cases").glob("*.yaml"))
    with tempfile.TemporaryDirectory() as tmp:
        responses = []
        for path in cases:
            data = yaml.safe_load(path.read_text())
            target = Path(tmp) / f"{path.stem}.json"
            target.write_text(json.dumps(response(form, data, data.get("case_id", path.stem))))
            responses.append(target)
        yaml_ms = median_ms(lambda p: api.load_case(p, kb), cases)
        fhir_ms = median_ms(lambda p: api.load_case(p, kb), responses)
        loaded = [api.load_case(p, kb) for p in responses]
        built = [(reasoner.infer(c), c) for c in loaded]
        results = [(inf, api.build_result(kb, inf)) for inf, _ in built]
        json_ms = median_ms(lambda r: api.render_result(kb, r[0], r[1], "json"), results)
        bundle_ms = median_ms(lambda r: api.render_result(kb, r[0], r[1], "fhir"), results)
        sizes = [(len(api.render_result(kb, i, r, "json")), len(api.render_result(kb, i, r, "fhir")))
                 for i, r in results]
        print(f"{len(cases)} example cases, median per case over {ROUNDS} rounds")
        print(f"  read + validate: YAML {yaml_ms:.2f} ms, QuestionnaireResponse {fhir_ms:.2f} ms")
        print(f"  write the result: json {json_ms:.2f} ms, fhir Bundle {bundle_ms:.2f} ms")
        print(f"  output size: json {statistics.median(s[0] for s in sizes):.0f} B, "
              f"fhir {statistics.median(s[1] for s in sizes):.0f} B (median)")
        print(f"  cold start of hipkb run: YAML to json {cold(['run', str(cases[0])]):.0f} ms, "
              f"response to fhir {cold(['run', str(responses[0]), '--format', 'fhir']):.0f} ms")


if __name__ == "__main__":
    main()
