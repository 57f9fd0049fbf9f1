// hipkb case page: a form built from the vocabulary, re-run on every change.
// Plain JavaScript, no framework, no build step. Text from the server is
// always set with textContent, never parsed as HTML.
"use strict";

const SVGNS = "http://www.w3.org/2000/svg";
const $ = (sel, root = document) => root.querySelector(sel);

const state = {
  vocab: null,          // GET /api/v1/vocabulary
  knowledge: null,      // GET /api/v1/knowledge
  fields: new Map(),    // path -> field description
  seq: 0,               // the latest update asked for; older answers are dropped
  view: null,           // the last /api/v1/view answer
  pinned: null,         // case A of the side-by-side comparison
  mode: "work",
  committed: false,     // teaching: the student has committed a prediction
  whatifSeq: 0,
  started: 0,           // when the change being shown was made (performance.now())
  timings: [],          // milliseconds from a change to the page showing its result
};
window.hipkb = state;   // for the browser test and the benchmark

// -- small DOM helpers ------------------------------------------------------

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  setAttrs(node, attrs);
  node.append(...children.filter((c) => c !== null && c !== undefined && c !== false));
  return node;
}

function svg(tag, attrs = {}, ...children) {
  const node = document.createElementNS(SVGNS, tag);
  setAttrs(node, attrs);
  node.append(...children.filter((c) => c !== null && c !== undefined));
  return node;
}

function setAttrs(node, attrs) {
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "text") node.textContent = String(value);
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : String(value));
  }
}

function words(value) {
  return String(value ?? "").replaceAll("_", " ");
}

// A fact (group.field=value, or a pattern name=value) in the knowledge base's words, as a student reads it.
function factWords(fact) {
  const [name, value = ""] = String(fact).split("=");
  const field = state.fields.get(name);
  if (field) {
    const meaning = field.values.find((v) => v.value === value)?.text ?? words(value);
    return name.endsWith(".regions") ? meaning : `${words(name.split(".")[1])}: ${meaning}`;
  }
  const derived = state.knowledge?.derived?.[name];
  if (derived) {
    const meaning = derived.values[value] ?? words(value);
    return ["present", "yes"].includes(meaning) ? derived.label : `${derived.label}: ${meaning}`;
  }
  if (name === "red_flag") return state.knowledge?.red_flags?.[value] ?? words(value);
  if (name.startsWith("hypothesis.")) {
    const hid = name.slice("hypothesis.".length);
    return `${state.knowledge?.hypotheses.find((h) => h.id === hid)?.label ?? words(hid)}: ${value}`;
  }
  return words(fact);
}

// A text of the engine's that names hypotheses by id ("separates femoral_neck_bsi from pelvic_bsi"), with their labels.
function labelled(text) {
  return String(text ?? "").replace(/\b[a-z][a-z0-9]*(?:_[a-z0-9]+)+\b/g,
    (id) => state.knowledge?.hypotheses.find((h) => h.id === id)?.label ?? id);
}

// An error of the API in words: a case with no painful region asks where it hurts, not for a field path.
function errorWords(error) {
  const regions = state.vocab.bodymap.field;
  if (regions && error.message.includes(`${regions}: is required`)) {
    return { text: `Mark where it hurts (the body map, or "${state.fields.get(regions)?.question || words(regions)}") to start reasoning.`, kind: "info" };
  }
  return { text: error.message, kind: undefined };
}

// An id or a field path, shown to clinicians beside the words and hidden in teaching mode.
function ids(text) {
  return el("code", { class: "path", text });
}

function fieldId(path) {
  return "f-" + path.replaceAll(".", "-");
}

// -- talking to the server --------------------------------------------------

class ApiFailure extends Error {}

async function api(path, body, { text = false, blob = false, contentType = "application/json" } = {}) {
  const options = body === undefined ? {} : {
    method: "POST",
    headers: { "Content-Type": contentType },
    body: typeof body === "string" ? body : JSON.stringify(body),
  };
  const response = await fetch(path, options);
  if (!response.ok) {
    let message = `${response.status} ${response.statusText}`;
    try {
      const data = await response.json();
      if (data.error) message = data.error;
    } catch (_) { /* not JSON: keep the status line */ }
    throw new ApiFailure(message);
  }
  if (blob) return response.blob();
  return text ? response.text() : response.json();
}

function showStatus(message, kind = "error") {
  const box = $("#status");
  box.textContent = "";
  if (message) box.append(el("p", { class: kind, text: kind === "error" ? `hipkb: ${message}` : message }));
}

// -- the form ---------------------------------------------------------------

function buildForm() {
  const form = $("#case-form");
  form.textContent = "";
  if (state.vocab.encounter) form.append(encounterBox(state.vocab.encounter));
  for (const group of state.vocab.groups) {
    const box = el("fieldset", { class: "group", id: `g-${group.name}` }, el("legend", { text: group.label }));
    for (const field of group.fields) {
      state.fields.set(field.path, field);
      box.append(fieldRow(field));
    }
    form.append(box);
  }
  form.addEventListener("change", () => changed(0));
  form.addEventListener("input", (event) => {
    if (event.target.matches("input[type=number], input[type=text], input[type=date], textarea")) changed(350);
  });
  $("#case-id").addEventListener("input", () => changed(350));
}

// The encounter: who, when, where, the record, notes. Shown in reports, never reasoned on.
function encounterBox(encounter) {
  const box = el("fieldset", { class: "group encounter", id: "g-encounter" }, el("legend", { text: encounter.label }));
  for (const f of encounter.fields) {
    const id = fieldId(f.path);
    const attrs = { id, name: f.path, "data-path": f.path, maxlength: f.kind === "date" ? null : f.max_length, autocomplete: f.kind === "date" ? null : "off" };
    const control = f.kind === "notes" ? el("textarea", { ...attrs, rows: 3 })
      : el("input", { ...attrs, type: f.kind === "date" ? "date" : "text", placeholder: f.kind === "date" ? null : "not recorded" });
    box.append(el("div", { class: "field", id: `${id}-row` },
      el("label", { for: id }, f.label, " ", el("span", { class: "hint", text: `(${f.description})` })), control));
  }
  return box;
}

function readEncounter() {
  const values = {};
  for (const f of state.vocab.encounter?.fields || []) {
    const raw = document.getElementById(fieldId(f.path)).value;
    if (raw.trim()) values[f.name] = f.kind === "notes" ? raw : raw.trim();
  }
  return Object.keys(values).length ? values : null;
}

function fieldRow(field) {
  const id = fieldId(field.path);
  const required = field.required ? el("span", { class: "required", text: " (required)" }) : null;
  const code = el("code", { class: "path", text: field.path });
  if (field.type === "set") {
    const box = el("fieldset", { class: "field set", id, "data-path": field.path },
      el("legend", {}, field.question, required, " ", code));
    for (const v of field.values) {
      const input = el("input", { type: "checkbox", id: `${id}-${v.value}`, name: field.path, value: v.value });
      box.append(el("label", { class: "check", for: input.id }, input, ` ${v.text}`));
    }
    return box;
  }
  let control;
  if (field.type === "choice") {
    control = el("select", { id, name: field.path, "data-path": field.path },
      el("option", { value: "", text: "unknown" }),
      ...field.values.map((v) => el("option", { value: v.value, text: v.text === v.value ? words(v.value) : `${v.text} (${words(v.value)})` })));
  } else if (field.type === "integer" || field.type === "number") {
    control = el("input", { type: "number", id, name: field.path, "data-path": field.path, inputmode: "decimal",
      min: field.min, max: field.max, step: field.type === "integer" ? 1 : "any", placeholder: "unknown" });
  } else {
    control = el("input", { type: "text", id, name: field.path, "data-path": field.path, placeholder: "unknown" });
  }
  return el("div", { class: "field", id: `${id}-row` }, el("label", { for: id }, field.question, required, " ", code), control);
}

function readField(field) {
  const id = fieldId(field.path);
  if (field.type === "set") {
    const checked = [...document.querySelectorAll(`#${CSS.escape(id)} input:checked`)].map((i) => i.value);
    return checked.length ? checked : null;
  }
  const control = document.getElementById(id);
  const raw = control.value.trim();
  if (raw === "") return null;
  if (field.type === "integer" || field.type === "number") {
    const number = Number(raw);
    return Number.isFinite(number) ? number : raw;  // the server names a bad number
  }
  return raw;
}

function collectCase() {
  const data = { format: "hipkb-case/1", case_id: $("#case-id").value.trim() || "case" };
  const encounter = readEncounter();
  if (encounter) data.encounter = encounter;
  for (const field of state.fields.values()) {
    const value = readField(field);
    if (value === null) continue;
    const [group, name] = field.path.split(".");
    (data[group] ??= {})[name] = value;
  }
  return data;
}

function fillForm(data) {
  $("#case-id").value = data.case_id || "case";
  for (const f of state.vocab.encounter?.fields || []) {
    document.getElementById(fieldId(f.path)).value = data.encounter?.[f.name] ?? "";
  }
  for (const field of state.fields.values()) {
    const [group, name] = field.path.split(".");
    const value = data[group]?.[name];
    const id = fieldId(field.path);
    if (field.type === "set") {
      const chosen = new Set(Array.isArray(value) ? value.map(String) : []);
      for (const box of document.querySelectorAll(`#${CSS.escape(id)} input`)) box.checked = chosen.has(box.value);
    } else {
      const control = document.getElementById(id);
      control.value = value === undefined || value === null ? "" : (value === true ? "yes" : value === false ? "no" : String(value));
    }
  }
}

function setField(path, value) {
  const data = collectCase();
  const [group, name] = path.split(".");
  (data[group] ??= {})[name] = value;
  fillForm(data);
  changed(0);
}

function focusField(path) {
  const id = fieldId(path);
  const target = document.querySelector(`#${CSS.escape(id)} input`) || document.getElementById(id);
  if (!target) return;
  const row = document.getElementById(`${id}-row`) || document.getElementById(id);
  row.classList.remove("flash");
  void row.offsetWidth;  // restart the highlight animation
  row.classList.add("flash");
  target.focus();
  target.scrollIntoView({ block: "center" });
}

// -- body map ---------------------------------------------------------------

function buildBodymap() {
  const map = state.vocab.bodymap;
  const figure = $("#bodymap");
  figure.textContent = "";
  if (!map.field) return;
  const picture = svg("svg", { viewBox: `0 0 ${map.width} ${map.height}`, class: "bodymap", role: "group",
    "aria-label": "Body map: press a region to mark it painful" });
  for (const view of map.views) {
    const g = svg("g", { class: `view view-${view.name}` });
    for (const d of view.outline) g.append(svg("path", { class: "body-outline", d }));
    g.append(svg("circle", { class: "body-outline", cx: view.x, cy: 26, r: 16 }));
    g.append(svg("text", { class: "view-label", x: view.x, y: 356, text: view.name }));
    picture.append(g);
  }
  for (const region of map.regions) {
    for (const shape of region.shapes) {
      const side = shape.side ? ` (${shape.side})` : "";
      // A button of its own for keyboard and screen readers: its name, and whether it is marked (aria-pressed).
      const ellipse = svg("ellipse", { class: "region", cx: shape.cx, cy: shape.cy, rx: shape.rx, ry: shape.ry,
        "data-region": region.id, "data-side": shape.side || "", tabindex: 0, role: "button",
        "aria-label": `${region.text}${side}, ${shape.view} view`, "aria-pressed": "false",
        onclick: () => clickRegion(region.id, shape.side),
        onkeydown: (event) => {
          if (event.key === "Enter" || event.key === " ") {
            event.preventDefault();
            clickRegion(region.id, shape.side);
          }
        } },
        svg("title", { text: `${region.text}${side}` }));
      picture.append(ellipse);
    }
  }
  const shapeless = map.regions.filter((r) => !r.shapes.length);
  figure.append(picture, el("figcaption", { class: "hint" },
    "Click a region to mark it painful; click again to clear it.",
    shapeless.length ? ` Not drawn: ${shapeless.map((r) => r.text).join(", ")} (tick them under Pain).` : ""));
  paintBodymap();
}

function clickRegion(region, side) {
  const map = state.vocab.bodymap;
  const box = document.getElementById(`${fieldId(map.field)}-${region}`);
  if (!box) return;
  const sideSelect = map.side_field ? document.getElementById(fieldId(map.side_field)) : null;
  if (side && sideSelect) {
    // The vocabulary records one side for the whole pain: a region marked on
    // the other side makes it both sides; a click on a lit shape clears the region.
    const current = sideSelect.value;
    const lit = box.checked && (!current || current === "both" || current === side);
    if (lit) {
      box.checked = false;
      if (!readField(state.fields.get(map.field))) sideSelect.value = "";
    } else {
      box.checked = true;
      if (!current) sideSelect.value = side;
      else if (current !== side && current !== "both") sideSelect.value = map.side_values.includes("both") ? "both" : side;
    }
  } else {
    box.checked = !box.checked;
  }
  changed(0);
}

function paintBodymap() {
  const map = state.vocab.bodymap;
  if (!map.field) return;
  const regions = new Set(readField(state.fields.get(map.field)) || []);
  const side = map.side_field ? readField(state.fields.get(map.side_field)) : null;
  for (const shape of document.querySelectorAll("#bodymap .region")) {
    const onSide = !shape.dataset.side || !side || side === "both" || side === shape.dataset.side;
    const on = regions.has(shape.dataset.region) && onSide;
    shape.classList.toggle("on", on);
    shape.setAttribute("aria-pressed", String(on));
  }
}

// -- running the case -------------------------------------------------------

let timer = 0;
let whatifTimer = 0;
function changed(delay) {
  state.started = performance.now();
  paintBodymap();
  clearTimeout(timer);
  timer = setTimeout(update, delay);
}

async function update() {
  const seq = ++state.seq;
  const data = collectCase();
  let view;
  try {
    view = await api("/api/v1/view", data);
  } catch (error) {
    if (seq !== state.seq) return;
    // What is shown no longer matches the form: say so, never leave it looking current.
    $("#reveal").classList.add("stale");
    const said = errorWords(error);
    showStatus(said.text, said.kind);
    document.body.dataset.updated = String(seq);
    return;
  }
  if (seq !== state.seq) return;  // a newer change is on its way
  $("#reveal").classList.remove("stale");
  showStatus("");
  state.view = view;
  renderView(view);
  state.timings.push(performance.now() - state.started);
  document.body.dataset.updated = String(seq);
  if (state.mode === "teach") {
    // A hundred engine runs: wait until the changes settle, so the next
    // update is never queued behind them.
    clearTimeout(whatifTimer);
    whatifTimer = setTimeout(runWhatIf, 300);
  }
  if (state.pinned) runCompare();
}

function renderView(view) {
  const result = view.result;
  renderSummary(view.assessment);
  renderBar(view.assessment);
  renderFlags(view.assessment);
  renderDecision(result, view.decisions);
  renderWarnings(result);
  $("#certainty-note").textContent = view.certainty_note;
  renderDifferential(result);
  renderQuestions(result);
  renderGraph(view.graph);
  renderGraphWords(view.chains || []);
  renderPredictChoices(result);
  $("#explain").hidden = true;
}

// The one page of assessment, in plain words: what the printed report opens with.
function renderSummary(a) {
  const box = $("#summary");
  box.textContent = "";
  const section = (title, ...children) => el("div", { class: "a-block" }, el("h3", { text: title }), ...children);
  box.append(section("Red flags", a.red_flags.length
    ? el("ul", { class: "a-list flags" }, ...a.red_flags.map((f) => el("li", {},
        el("strong", { text: f.label }), f.emergency ? " — emergency" : "", f.findings ? `: ${f.findings}` : "")))
    : el("p", { class: "ok", text: "None raised by what the case says." })));
  for (const w of a.warnings) box.append(el("p", { class: "warning", text: w }));
  const follows = (d) => d.follows ? el("p", { class: "hint", text: `Because of: ${d.follows}.` }) : null;
  const howSoon = `${a.triage.how_soon.charAt(0).toUpperCase()}${a.triage.how_soon.slice(1)}.`;
  box.append(el("div", { class: "decision" },
    el("div", { class: "card decision-card" },
      el("div", {}, "Triage: ", el("span", { id: "triage-level", class: `level level-${a.triage.level}`, "data-level": a.triage.level, text: a.triage.words })),
      el("p", {}, el("strong", { text: howSoon }), a.triage.what ? ` ${a.triage.what}` : ""),
      follows(a.triage)),
    el("div", { class: "card decision-card" },
      el("div", {}, "Running: ", el("span", { id: "running-advice", class: `level advice-${a.running.advice}`, "data-advice": a.running.advice, text: a.running.words })),
      el("p", {}, a.running.reasons.join(" "),
        a.running.more_reasons ? el("span", { class: "hint", text: ` (${a.running.more_reasons} more below.)` }) : null),
      follows(a.running))));
  box.append(section("Most likely", a.top.length
    ? el("ol", { class: "a-list top3" }, ...a.top.map((h) => el("li", {},
        el("strong", { text: h.label }), " ", el("span", { class: `band band-${h.band}`, text: h.band }), ` ${h.certainty_text}`,
        el("div", { class: "why", text: `For: ${h.why || "no finding"}${h.against ? `. Against: ${h.against}` : ""}.` }))))
    : el("p", { class: "hint", text: "No hypothesis is supported by what the case says." }),
    a.more ? el("p", { class: "hint", text: `${a.more} more in the differential below.` }) : null));
  if (a.not_excluded !== null && a.not_excluded !== undefined) {
    box.append(section("Not yet excluded", a.not_excluded.length
      ? el("ul", { class: "a-list" }, ...a.not_excluded_groups.map((g) => el("li", {},
          ...g.items.flatMap((x, i) => [el("strong", { text: x.name || x.label }),
            `: ${x.status_words.toLowerCase()}${x.findings ? ` (${x.findings})` : ""}${i < g.items.length - 1 ? "; " : (g.to_exclude.length ? "" : ".")}`]),
          g.to_exclude.length ? el("div", { class: "why", text: `To exclude${g.items.length > 1 ? " them" : ""}: ${(g.to_exclude_brief || g.to_exclude).join(" ")}${g.to_exclude_more ? ` (${g.to_exclude_more} more in the evidence)` : ""}` }) : null,
          (g.withheld || []).length ? el("div", { class: "why withheld", text: `Not to test until excluded: ${g.withheld.join(", ")}.` }) : null)))
      : el("p", { class: "ok", text: "Every serious condition this case makes relevant is excluded by what it records." })));
  }
  if (a.referrals.length) {
    box.append(section("Referrals", el("ul", { class: "a-list" }, ...a.referrals.map((r) => el("li", {},
      el("strong", { text: r.label }), `: ${r.reason}`)))));
  }
  box.append(section("Ask or examine next", a.next.length
    ? el("ol", { class: "a-list" }, ...a.next.map((q) => el("li", {}, q.question, q.why ? el("span", { class: "hint", text: ` (${q.why})` }) : null)))
    : el("p", { class: "hint", text: "Nothing left to ask would change the ranking or the triage." })));
}

// The call in one line, in view while the form scrolls.
function renderBar(a) {
  const top = a.top[0];
  $("#bar").replaceChildren(...[
    el("span", {}, "Triage ", el("span", { class: `level level-${a.triage.level}`, text: a.triage.words })),
    el("span", {}, "Running ", el("span", { class: `level advice-${a.running.advice}`, text: a.running.words })),
    a.red_flags.length ? el("span", { class: "bar-flags", text: `${a.red_flags.length} red flag${a.red_flags.length > 1 ? "s" : ""}` }) : null,
    top ? el("span", { class: "bar-top", text: `Most likely: ${top.short} (${top.band})` }) : null,
  ].filter(Boolean));
}

function renderFlags(a) {
  const box = $("#red-flags");
  box.textContent = "";
  if (!a.red_flags.length) return;
  box.append(el("h3", { text: "Red flags" }));
  for (const flag of a.red_flags) {
    box.append(el("div", { class: `card flag${flag.emergency ? " emergency" : ""}` },
      el("strong", { text: flag.label }), flag.emergency ? " — emergency" : "",
      el("div", { class: "facts", text: flag.findings })));
  }
}

function renderDecision(result, decisions) {
  // Triage, running advice and referrals are in the assessment; here, why when it is not the top hypothesis.
  const box = $("#decision");
  box.textContent = "";
  if ((result.running.reasons || []).length > 1) {
    box.append(el("div", { class: "card" }, el("strong", { text: "Running advice, every reason:" }),
      el("ul", {}, ...result.running.reasons.map((r) => el("li", { text: r })))));
  }
  for (const kind of ["triage", "running"]) {
    if (decisions[kind].note) box.append(el("p", { class: "card why-decision" }, el("strong", { text: "Why: " }), decisions[kind].note));
  }
}

function renderWarnings(result) {
  const box = $("#warnings");
  box.textContent = "";
  for (const warning of result.warnings) box.append(el("p", { class: "warning", text: warning }));
}

function renderDifferential(result) {
  const list = $("#differential");
  list.textContent = "";
  if (!result.hypotheses.length) list.append(el("li", { class: "muted", text: "No hypothesis is supported by what the case says." }));
  for (const h of result.hypotheses) {
    const button = el("button", { type: "button", class: "hyp", "data-hypothesis": h.id, "aria-controls": "explain",
      onclick: () => explain(h.id) },
      el("span", { class: "hyp-label", text: h.label }), " ",
      el("span", { class: `band band-${h.band}`, text: h.band }), " ",
      el("span", { class: "muted", text: `certainty ${h.certainty.toFixed(2)}` }));
    const meter = el("meter", { min: 0, max: 1, value: h.certainty, title: `certainty ${h.certainty}` });
    const evidence = el("ul", { class: "evidence" },
      ...h.support.map((e) => el("li", { class: "for" }, `+${e.weight} `, ids(`${e.rule}: `), `${e.title} (${e.facts.map(factWords).join("; ")})`)),
      ...h.against.map((e) => el("li", { class: "against" }, `−${e.weight} `, ids(`${e.rule}: `), `${e.title} (${e.facts.map(factWords).join("; ")})`)));
    list.append(el("li", { class: "card hypothesis", id: `h-${h.id}` }, button, meter,
      el("details", {}, el("summary", { text: `Evidence (${h.support.length} for, ${h.against.length} against)` }), evidence)));
  }
}

function renderQuestions(result) {
  const list = $("#questions");
  list.textContent = "";
  if (!result.next_questions.length) list.append(el("li", { class: "muted", text: "No unanswered finding would change the ranking or the triage." }));
  for (const q of result.next_questions) {
    list.append(el("li", {},
      el("button", { type: "button", class: "question", "data-fact": q.fact, onclick: () => focusField(q.fact), text: q.question }),
      el("div", { class: "why", text: labelled(q.why) })));
  }
}

function renderGraphWords(chains) {
  // The graph for those who cannot see it: each conclusion, and the rules and findings it came from.
  const list = $("#graph-chains");
  if (!list) return;
  list.replaceChildren(...(chains.length ? chains.map((c) => el("li", { text: `${c.label}${c.sub ? ` (${c.sub})` : ""}: from `
    + c.by.map((b) => `${b.sign === "-" ? "against: " : ""}${b.from.join(", ") || "no finding"}`).join("; or ") }))
    : [el("li", { class: "muted", text: "Nothing was concluded from the findings." })]));
}

function renderGraph(layout) {
  const box = $("#graph");
  box.textContent = "";
  if (!layout.nodes.length) {
    box.append(el("p", { class: "muted", text: "Nothing was concluded from the findings." }));
    return;
  }
  const picture = svg("svg", { class: "graph", viewBox: `0 0 ${layout.width} ${layout.height}`, width: layout.width,
    height: layout.height, role: "img", "aria-label": "Reasoning graph: findings, patterns, hypotheses, decisions" });
  picture.append(svg("defs", {}, svg("marker", { id: "arrow", viewBox: "0 0 10 10", refX: 9, refY: 5, markerWidth: 7,
    markerHeight: 7, orient: "auto-start-reverse" }, svg("path", { d: "M 0 0 L 10 5 L 0 10 z", class: "arrow-head" }))));
  for (const c of layout.columns) picture.append(svg("text", { class: "col", x: c.x, y: c.y, text: c.text }));
  for (const e of layout.edges) {
    const sign = e.sign === "+" ? " plus" : e.sign === "-" ? " minus" : "";
    picture.append(svg("path", { class: `edge${sign}`, d: e.d, "marker-end": "url(#arrow)" }, svg("title", { text: e.title })));
  }
  for (const n of layout.nodes) {
    const g = svg("g", { class: `node ${n.css}` }, svg("title", { text: n.title }),
      svg("rect", { x: n.x, y: n.y, width: n.w, height: n.h, rx: 5 }));
    for (const line of n.lines) g.append(svg("text", { class: line.sub ? "sub" : "line", x: line.x, y: line.y, text: line.text }));
    picture.append(g);
  }
  box.append(picture);
}

// -- HOW and WHY NOT ---------------------------------------------------------

async function explain(hid) {
  const box = $("#explain");
  const data = collectCase();
  let answer;
  try {
    answer = await api(`/api/v1/explain?how=${encodeURIComponent(hid)}&why_not=${encodeURIComponent(hid)}`, data);
  } catch (error) {
    showStatus(error.message);
    return;
  }
  box.textContent = "";
  const label = state.knowledge.hypotheses.find((h) => h.id === hid)?.label || hid;
  box.append(el("div", { class: "explain-head" }, el("h3", { id: "explain-heading", text: `${label}: HOW and WHY NOT` }),
    el("button", { type: "button", class: "close", onclick: () => { box.hidden = true; }, text: "Close" })));
  box.append(el("h4", { text: "HOW: the chain down to the findings" }), howTree(answer.how));
  if (state.mode === "teach" && typeof whyNotView === "function") {
    // A student reads WHY NOT in the knowledge base's words (hipkb.teach.feedback), never in its conditions.
    try {
      box.append(el("h4", { text: "WHY NOT higher: what it lacks" }),
        ...whyNotView(await api(`/api/v1/teach/why-not?id=${encodeURIComponent(hid)}`, data), false));
    } catch (error) {
      showStatus(error.message);
    }
    box.hidden = false;
    box.scrollIntoView({ block: "nearest" });
    return;
  }
  const w = answer.why_not;
  box.append(el("h4", { text: "WHY NOT higher: what it lacks" }), el("p", { text: w.verdict }));
  if (w.missing.length) {
    box.append(el("p", { text: "Unknown findings its rules wait on:" }), el("ul", {},
      ...w.missing.map((m) => el("li", {}, el("button", { type: "button", class: "linkish", onclick: () => focusField(m.fact), text: m.question }),
        el("span", { class: "cite" }, " ", ids(`(${m.fact}; ${m.rules.join(", ")})`))))));
  }
  if (w.ruled_out_groups.length) {
    box.append(el("p", { text: "Rules the case rules out:" }), el("ul", {},
      ...w.ruled_out_groups.map((g) => el("li", {}, el("strong", {}, g.rules.map((r) => r.title).join("; ")), " ", ids(g.rules.map((r) => r.id).join(", ")), ": ",
        g.unmet.map((u) => `needs ${u.condition}; ${u.found ? `the case says ${factWords(u.found)}` : u.note}`).join("; and ")))));
  }
  const teaching = state.knowledge.hypotheses.find((h) => h.id === hid)?.teaching;
  if (teaching) box.append(learningPoints(teaching));
  box.hidden = false;
  box.scrollIntoView({ block: "nearest" });
}

function howTree(node) {
  const item = el("li", { class: node.holds ? "holds" : "not-holds" }, el("span", { class: `kind kind-${node.kind}`, text: node.kind }), " ",
    node.text, node.repeat ? " (see above)" : "");
  if (node.note) item.append(el("span", { class: "muted", text: ` — ${node.note}` }));
  if (node.because?.length) {
    const steps = el("ul");
    for (const step of node.because) {
      const weight = step.weight === null || step.weight === undefined ? "" : ` (${step.weight > 0 ? "+" : "−"}${Math.abs(step.weight)})`;
      const li = el("li", { class: "rule" }, ids(step.rule.id), ` ${step.rule.title}${weight}`);
      const facts = el("ul");
      for (const child of step.facts) facts.append(howTree(child).firstChild);
      li.append(facts);
      steps.append(li);
    }
    item.append(steps);
  }
  return el("ul", { class: "how" }, item);
}

function learningPoints(teaching) {
  return el("div", { class: "card learning" }, el("h4", { text: "Learning points" }),
    el("p", { text: "Key discriminators:" }), el("ul", {}, ...teaching.discriminators.map((d) => el("li", { text: d }))),
    el("p", {}, el("strong", { text: "Classic pitfall: " }), teaching.pitfall),
    el("p", { class: "cite", text: `Source: ${teaching.source}` }));
}

// -- what would change the call ---------------------------------------------

async function runWhatIf() {
  const seq = ++state.whatifSeq;
  const box = $("#whatif");
  let answer;
  try {
    answer = await api("/api/v1/what-if", collectCase());
  } catch (error) {
    if (seq === state.whatifSeq) box.replaceChildren(el("p", { class: "muted", text: errorWords(error).text }));
    return;
  }
  if (seq !== state.whatifSeq) return;
  const label = (hid) => state.knowledge.hypotheses.find((h) => h.id === hid)?.label || words(hid || "none");
  const base = answer.baseline;
  box.replaceChildren(el("p", { class: "hint", text: `Now: triage ${words(base.triage)}, running ${words(base.running)}, top ${label(base.top)}. ` +
    `${answer.tried} single-finding variants run through the engine.` }));
  if (!answer.changes.length) {
    box.append(el("p", { text: "No change of one finding would change the triage, the running advice or the top hypothesis." }));
    return;
  }
  const rows = answer.changes.map((c) => el("tr", {},
    el("td", {}, c.question, " ", el("code", { class: "path", text: c.fact })),
    el("td", {}, c.kind === "answer" ? "answered " : `${c.from_text} → `, el("strong", { text: c.to_text })),
    el("td", { text: c.effect_text }),
    el("td", {}, el("button", { type: "button", class: "try", onclick: () => setField(c.fact, c.to), text: "Try it" }))));
  box.append(el("table", { class: "whatif" }, el("thead", {}, el("tr", {}, el("th", { text: "Finding" }), el("th", { text: "Change" }),
    el("th", { text: "Effect" }), el("th", { text: "" }))), el("tbody", {}, ...rows)));
}

// -- predict, then reveal ----------------------------------------------------

function setMode(mode) {
  state.mode = mode;
  document.body.dataset.mode = mode;
  $("#mode-work").setAttribute("aria-pressed", String(mode === "work"));
  $("#mode-teach").setAttribute("aria-pressed", String(mode === "teach"));
  state.committed = mode !== "teach";
  applyReveal();
  if (mode === "teach") runWhatIf();
}

function applyReveal() {
  const hide = state.mode === "teach" && !state.committed;
  $("#reveal").hidden = hide;
  $("#summary-pane").hidden = hide;
  $("#bar").classList.toggle("concealed", hide);
  $("#predict").hidden = !hide;
  if (state.mode !== "teach") $("#score").hidden = true;
}

function renderPredictChoices(result) {
  const keep = (select) => select.value;
  const top = $("#predict-top");
  const triage = $("#predict-triage");
  const question = $("#predict-question");
  const was = [keep(top), keep(triage), keep(question)];
  top.replaceChildren(el("option", { value: "", text: "choose…" }),
    ...state.knowledge.hypotheses.map((h) => el("option", { value: h.id, text: h.label })));
  triage.replaceChildren(el("option", { value: "", text: "choose…" }),
    ...state.knowledge.triage_levels.map((t) => el("option", { value: t.id, text: t.text })));
  const known = collectCase();
  const unknown = [...state.fields.values()].filter((f) => known[f.path.split(".")[0]]?.[f.path.split(".")[1]] === undefined);
  question.replaceChildren(el("option", { value: "", text: "choose…" }),
    ...unknown.map((f) => el("option", { value: f.path, text: f.question })));
  [top.value, triage.value, question.value] = was;
}

function commitPrediction() {
  const top = $("#predict-top").value;
  const triage = $("#predict-triage").value;
  const question = $("#predict-question").value;
  if (!top || !triage || !question) {
    showStatus("Choose a top hypothesis, a triage level and a next question first.", "info");
    return;
  }
  const result = state.view.result;
  const levels = state.knowledge.triage_levels.map((t) => t.id);
  const ranked = result.hypotheses.map((h) => h.id);
  const asked = result.next_questions.map((q) => q.fact);
  const scoreTop = ranked[0] === top ? 1 : ranked.includes(top) ? 0.5 : 0;
  const gap = Math.abs(levels.indexOf(triage) - levels.indexOf(result.triage.level));
  // Under-triage is the dangerous miss: it scores nothing; over by one level scores half.
  const under = levels.indexOf(triage) > levels.indexOf(result.triage.level);
  const scoreTriage = gap === 0 ? 1 : (!under && gap === 1 ? 0.5 : 0);
  const scoreQuestion = asked.slice(0, 3).includes(question) ? 1 : asked.includes(question) ? 0.5 : 0;
  const label = (hid) => state.knowledge.hypotheses.find((h) => h.id === hid)?.label || words(hid);
  const lines = [
    [`Top hypothesis: you said ${label(top)}; hipkb ranks ${ranked.length ? label(ranked[0]) : "none"} first`, scoreTop],
    [`Triage: you said ${words(triage)}; hipkb says ${words(result.triage.level)}${under && gap ? " (under-triage: the miss that harms)" : ""}`, scoreTriage],
    [`Next question: ${asked.includes(question) ? `rank ${asked.indexOf(question) + 1} of hipkb's ${asked.length}` : "not among hipkb's next questions"}`, scoreQuestion],
  ];
  const total = lines.reduce((sum, [, s]) => sum + s, 0);
  const box = $("#score");
  box.replaceChildren(el("h3", { text: `Your prediction: ${total} / 3` }),
    el("ul", {}, ...lines.map(([text, s]) => el("li", { class: s === 1 ? "right" : s ? "partly" : "wrong", text: `${text} — ${s} point${s === 1 ? "" : "s"}` }))),
    el("button", { type: "button", id: "predict-again", onclick: predictAgain, text: "Predict again" }));
  box.hidden = false;
  state.committed = true;
  applyReveal();
}

function predictAgain() {
  state.committed = false;
  $("#score").hidden = true;
  applyReveal();
}

// -- side by side -------------------------------------------------------------

function pinCase() {
  state.pinned = collectCase();
  $("#compare-box").hidden = false;
  runCompare();
}

async function runCompare() {
  const box = $("#compare");
  let answer;
  try {
    answer = await api("/api/v1/compare", { a: state.pinned, b: collectCase() });
  } catch (error) {
    box.replaceChildren(el("p", { class: "muted", text: error.message }));
    return;
  }
  // In the knowledge base's words, never its ids or field paths: a class reads this table.
  const hypothesis = (hid) => state.knowledge.hypotheses.find((h) => h.id === hid)?.label || words(hid);
  const levels = Object.fromEntries(state.knowledge.triage_levels.map((t) => [t.id, t.text]));
  const advice = Object.fromEntries(state.knowledge.running_advice.map((r) => [r.id, r.text]));
  const show = (c, v) => v === null || v === undefined ? "—"
    : c.what === "top" ? hypothesis(v) : c.what === "triage" ? levels[v] || words(v) : c.what === "running" ? advice[v] || words(v)
      : typeof v === "number" ? (Number.isInteger(v) ? String(v) : v.toFixed(2))
        : typeof v === "boolean" ? (v ? "raised" : "not raised") : words(v);
  const finding = (path) => state.fields.get(path)?.question || words(path);
  box.replaceChildren(
    el("h4", { text: `Findings that differ (${answer.findings.length})` }),
    answer.findings.length ? el("table", {}, el("thead", {}, el("tr", {}, el("th", { text: "Finding" }), el("th", { text: "A" }), el("th", { text: "B" }))),
      el("tbody", {}, ...answer.findings.map((f) => el("tr", {}, el("td", { text: finding(f.fact) }), el("td", { text: f.a_text }), el("td", { text: f.b_text })))))
      : el("p", { class: "muted", text: "The two cases say the same." }),
    el("h4", { text: `Conclusions that changed (${answer.conclusions.length})` }),
    answer.conclusions.length ? el("table", {}, el("thead", {}, el("tr", {}, el("th", { text: "Conclusion" }), el("th", { text: "A" }), el("th", { text: "B" }), el("th", { text: "because of" }))),
      el("tbody", {}, ...answer.conclusions.map((c) => el("tr", {}, el("td", { text: c.label }), el("td", { text: show(c, c.a) }), el("td", { text: show(c, c.b) }),
        el("td", { text: c.because.map(finding).join("; ") || "—" })))))
      : el("p", { class: "muted", text: "No conclusion changed." }));
}

// -- files ----------------------------------------------------------------------

function download(text, filename, type) {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const link = el("a", { href: url, download: filename, hidden: true });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

function safeName(caseId) {
  return (caseId || "case").replace(/[^A-Za-z0-9._-]+/g, "_").slice(0, 100) || "case";
}

async function saveCase() {
  const data = collectCase();
  try {
    const answer = await api(`/api/v1/case?name=${encodeURIComponent(data.case_id)}`, data);
    download(answer.yaml, `${safeName(data.case_id)}.yaml`, "application/yaml");
    showStatus(`Saved ${safeName(data.case_id)}.yaml`, "info");
  } catch (error) {
    showStatus(error.message);
  }
}

const REPORT_TYPES = { html: "text/html", md: "text/markdown", pdf: "application/pdf" };

async function saveReport(format) {
  const data = collectCase();
  const audience = state.mode === "teach" ? "educator" : "clinician";
  try {
    const body = await api(`/api/v1/run?format=${format}&audience=${audience}`, data,
      format === "pdf" ? { blob: true } : { text: true });
    download(body, `${safeName(data.case_id)}.${format}`, REPORT_TYPES[format]);
    showStatus(`Saved ${safeName(data.case_id)}.${format}`, "info");
  } catch (error) {
    showStatus(error.message);
  }
}

async function openFile(file) {
  if (!file) return;
  if (file.size > 1_000_000) {
    showStatus(`${file.name}: file is larger than the 1000000 bytes allowed`);
    return;
  }
  try {
    const text = await file.text();
    // JSON or YAML, read by its first character as the CLI reads stdin: the server takes no other type.
    const contentType = /^\s*[{[]/.test(text) ? "application/json" : "application/yaml";
    const answer = await api(`/api/v1/case?name=${encodeURIComponent(file.name)}`, text, { contentType });
    fillForm(answer.case);
    showStatus(`Opened ${file.name}`, "info");
    changed(0);
  } catch (error) {
    showStatus(error.message);
  }
}

async function loadExample(name) {
  if (!name) return;
  try {
    fillForm(await api(`/api/v1/examples/${encodeURIComponent(name)}`));
    changed(0);
  } catch (error) {
    showStatus(error.message);
  }
}

// -- start --------------------------------------------------------------------

async function start() {
  try {
    [state.vocab, state.knowledge] = await Promise.all([api("/api/v1/vocabulary"), api("/api/v1/knowledge")]);
    const examples = await api("/api/v1/examples");
    for (const name of examples.examples) $("#example").append(el("option", { value: name, text: name }));
  } catch (error) {
    showStatus(error.message);
    return;
  }
  buildForm();
  buildBodymap();
  $("#mode-work").addEventListener("click", () => setMode("work"));
  $("#mode-teach").addEventListener("click", () => setMode("teach"));
  $("#example").addEventListener("change", (event) => loadExample(event.target.value));
  $("#open-file").addEventListener("change", (event) => openFile(event.target.files[0]));
  $("#new-case").addEventListener("click", () => { fillForm({}); changed(0); });
  $("#save-case").addEventListener("click", saveCase);
  $("#save-pdf").addEventListener("click", () => saveReport("pdf"));
  $("#save-html").addEventListener("click", () => saveReport("html"));
  $("#save-md").addEventListener("click", () => saveReport("md"));
  $("#pin-case").addEventListener("click", pinCase);
  $("#unpin").addEventListener("click", () => { state.pinned = null; $("#compare-box").hidden = true; });
  $("#whatif-run").addEventListener("click", runWhatIf);
  $("#predict-commit").addEventListener("click", commitPrediction);
  document.body.dataset.ready = "true";
  changed(0);
}

document.addEventListener("DOMContentLoaded", start);
