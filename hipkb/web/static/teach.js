// hipkb teaching view: the case library, the staged reveal, the commitment scored, share by link, handouts.
// Loaded after app.js and uses its helpers (el, api, fillForm, changed, setMode, applyReveal, focusField).
// The case and the stage live in the URL fragment (#case=case-02&stage=2): nothing is stored on the server,
// and what a student chooses is scored here, from the key the server sends with the stage, so it never
// leaves the browser. Text from the server is always set with textContent.
"use strict";

const teach = {
  library: null,     // GET /api/v1/teach/cases
  open: null,        // the library case being taught: GET /api/v1/teach/cases/{id}?stage=N
  committed: false,  // the student has committed at this stage
  seq: 0,
};
window.hipkbTeach = teach;  // for the browser test

// -- the URL fragment -----------------------------------------------------------

function readFragment() {
  const params = new URLSearchParams(location.hash.replace(/^#/, ""));
  const stage = Number.parseInt(params.get("stage") || "", 10);
  return { case: params.get("case"), stage: Number.isFinite(stage) && stage > 0 ? stage : null };
}

function fragmentFor(caseId, stage) {
  return `#case=${encodeURIComponent(caseId)}&stage=${stage}`;
}

function shareLink() {
  return `${location.origin}${location.pathname}${fragmentFor(teach.open.id, teach.open.stage)}`;
}

// -- the library ----------------------------------------------------------------

async function loadLibrary() {
  if (teach.library) return teach.library;
  teach.library = await api("/api/v1/teach/cases");
  const fill = (select, items) => select.append(...items.map((i) => el("option", { value: i.id, text: i.text })));
  fill($("#lib-region"), teach.library.regions);
  fill($("#lib-topic"), teach.library.topics);
  fill($("#lib-difficulty"), teach.library.difficulties);
  renderLibrary();
  return teach.library;
}

function renderLibrary() {
  const region = $("#lib-region").value;
  const topic = $("#lib-topic").value;
  const difficulty = $("#lib-difficulty").value;
  const words = $("#lib-search").value.trim().toLowerCase().split(/\s+/).filter(Boolean);
  const cases = teach.library.cases.filter((c) => (!region || c.regions.includes(region))
    && (!topic || c.topics.includes(topic)) && (!difficulty || c.difficulty === difficulty)
    && words.every((w) => c.title.toLowerCase().includes(w)));
  const list = $("#lib-list");
  list.replaceChildren(...cases.map((c) => el("li", { class: "lib-case" },
    el("a", { href: `${location.origin}${location.pathname}${fragmentFor(c.id, 1)}`, class: "lib-title", "data-case": c.id,
      text: c.title }),
    el("span", { class: "lib-tags" }, el("span", { class: "tag", text: c.difficulty_text.split(" (")[0] }),
      ` ${c.topics_text.join(" · ")} · pain: ${c.regions_text.join(", ")} · ${c.stages.length} stage${c.stages.length > 1 ? "s" : ""}`))));
  $("#lib-count").textContent = `${cases.length} of ${teach.library.cases.length} cases`;
}

// -- one case, stage by stage ----------------------------------------------------

async function openCase(caseId, stage) {
  const seq = ++teach.seq;
  let answer;
  try {
    await loadLibrary();
    answer = await api(`/api/v1/teach/cases/${encodeURIComponent(caseId)}${stage ? `?stage=${stage}` : "?stage=1"}`);
  } catch (error) {
    showStatus(error.message);
    return;
  }
  if (seq !== teach.seq) return;
  // The case first, then the mode: what would change the call runs on the case, never on an empty form.
  fillForm(answer.known);
  $("#case-id").value = answer.id;
  if (state.mode !== "teach") setMode("teach");
  teach.open = answer;
  teach.committed = false;
  document.body.dataset.class = "open";
  $("#class-pane").hidden = false;
  changed(0);
  state.committed = false;  // the reasoning stays hidden until the student commits at this stage
  applyReveal();
  renderClass();
  $("#class-heading").focus();
}

function closeCase() {
  teach.open = null;
  delete document.body.dataset.class;
  $("#class-pane").hidden = true;
  history.replaceState(null, "", location.pathname + location.search);
}

function renderClass() {
  const c = teach.open;
  $("#class-heading").textContent = c.title;
  $("#class-meta").textContent = `${c.difficulty_text} · stage ${c.stage} of ${c.stages.length}: ${c.stages[c.stage - 1].label}`;
  const steps = $("#class-stages");
  steps.replaceChildren(...c.stages.map((s) => el("li", { "aria-current": s.number === c.stage ? "step" : null,
    class: s.number < c.stage ? "done" : s.number === c.stage ? "now" : "later", text: s.label })));
  $("#class-vignette").replaceChildren(...c.vignette.map((v) => el("section", { class: "vignette-stage" },
    el("h3", { text: `Stage ${v.number} · ${v.label}` }), el("p", { text: v.prose }),
    v.discussion.length ? el("ul", { class: "discuss" }, ...v.discussion.map((q) => el("li", { text: q }))) : null)));
  $("#class-prompt").textContent = `${c.stages[c.stage - 1].prompt}: commit before you see hipkb's reasoning.`;
  renderCommitChoices();
  $("#class-score").replaceChildren();
  $("#class-warning").replaceChildren();
  $("#class-warning").hidden = true;
  $("#class-whynot").replaceChildren();
  $("#class-after").hidden = true;
  $("#class-next").hidden = c.last;
  $("#class-next").textContent = c.last ? "" : `Reveal stage ${c.stage + 1}: ${c.stages[c.stage].label}`;
  $("#class-share").value = shareLink();
  $("#class-student").href = `/api/v1/teach/cases/${encodeURIComponent(c.id)}/handout?audience=student`;
  $("#class-student-stage").href = `/api/v1/teach/cases/${encodeURIComponent(c.id)}/handout?audience=student&stage=${c.stage}`;
  $("#class-key").href = `/api/v1/teach/cases/${encodeURIComponent(c.id)}/handout?audience=educator`;
  $("#class-commit").disabled = false;
}

function renderCommitChoices() {
  const c = teach.open;
  const hyp = $("#commit-hypothesis");
  hyp.replaceChildren(el("option", { value: "", text: "choose…" }),
    ...state.knowledge.hypotheses.map((h) => el("option", { value: h.id, text: h.label })));
  const triage = $("#commit-triage");
  triage.replaceChildren(el("option", { value: "", text: "choose…" }),
    ...state.knowledge.triage_levels.map((t) => el("option", { value: t.id, text: t.text })));
  // Every finding not known at this stage, grouped as the vocabulary groups them, by its question.
  const question = $("#commit-question");
  question.replaceChildren(el("option", { value: "", text: "choose…" }));
  for (const group of state.vocab.groups) {
    const open = group.fields.filter((f) => f.path in c.key.question);
    if (open.length) question.append(el("optgroup", { label: group.label },
      ...open.map((f) => el("option", { value: f.path, text: f.question }))));
  }
}

const PART_WORDS = { hypothesis: "Leading hypothesis", triage: "Triage", question: "Next question" };

function commit(event) {
  event.preventDefault();
  const c = teach.open;
  const choice = { hypothesis: $("#commit-hypothesis").value, triage: $("#commit-triage").value,
    question: $("#commit-question").value };
  if (!choice.hypothesis || !choice.triage || !choice.question) {
    showStatus("Choose a leading hypothesis, a triage level and a next question first.", "info");
    return;
  }
  showStatus("");
  const parts = Object.entries(choice).map(([part, value]) => ({ part, value,
    ...(c.key[part][value] || { points: 0, text: "not a choice at this stage" }) }));
  const total = parts.reduce((sum, p) => sum + p.points, 0);
  const label = (part, value) => part === "hypothesis" ? state.knowledge.hypotheses.find((h) => h.id === value)?.label
    : part === "triage" ? state.knowledge.triage_levels.find((t) => t.id === value)?.text
      : state.fields.get(value)?.question || value;
  $("#class-score").replaceChildren(
    el("h3", { id: "class-score-heading", tabindex: "-1", text: `Stage ${c.stage}: ${total} of ${c.key.max} points` }),
    el("ul", { class: "score-parts" }, ...parts.map((p) => el("li", { class: p.points === 1 ? "right" : p.points ? "partly" : "wrong" },
      el("strong", { text: `${PART_WORDS[p.part]}: ` }), `${label(p.part, p.value)} — ${p.text} `,
      el("span", { class: "points", text: `(${p.points} point${p.points === 1 ? "" : "s"})` })))));
  const warning = c.key.question[choice.question]?.unsafe;
  const box = $("#class-warning");
  if (warning) {
    box.replaceChildren(el("p", {}, el("strong", { text: "Unsafe test. " }), warning.text.replace(/^Unsafe now: /, "")),
      warning.rules.length > 1 ? el("details", {}, el("summary", { text: `Every rule that forbids it now (${warning.rules.length})` }),
        el("ul", {}, ...warning.rules.map((r) => el("li", { class: "cite", text: `${r.title}: ${r.reason} (source: ${r.source})` })))) : null);
    box.hidden = false;
  } else {
    box.hidden = true;
  }
  const best = c.key.best;
  const bestWords = [
    `hipkb leads with ${best.hypothesis.length ? label("hypothesis", best.hypothesis[0]) : "nothing yet"}`,
    `triage ${label("triage", best.triage)}`,
    best.question.length ? `would ask next: ${best.question.map((q) => label("question", q)).join(" · ")}` : "",
  ].filter(Boolean);
  const said = bestWords.join("; ");
  $("#class-best").textContent = /[.?!]$/.test(said) ? said : `${said}.`;
  $("#class-whynot-button").textContent = `Why not ${label("hypothesis", choice.hypothesis)}?`;
  $("#class-whynot-button").dataset.hypothesis = choice.hypothesis;
  renderChart(c.chart);
  $("#class-after").hidden = false;
  teach.committed = true;
  state.committed = true;  // show the workbench's reasoning for the findings known so far
  applyReveal();
  document.body.dataset.scored = String(c.stage);
  $("#class-score-heading").focus();
}

function renderChart(chart) {
  const rows = chart.rows.map((row) => el("tr", {},
    el("th", { scope: "row", text: row.label }),
    ...row.cells.map((cell) => el("td", {},
      el("span", { class: "cert" }, el("span", { class: "meter", "aria-hidden": "true" },
        el("span", { style: null, "data-width": Math.round(cell.certainty * 100) })), cell.certainty.toFixed(2)),
      cell.status ? el("span", { class: `status status-${cell.status}`, text: cell.status === "not_excluded" ? "not yet excluded" : cell.status.replace("_", " ") }) : null))));
  const table = el("table", { class: "chart", id: "class-chart" },
    el("caption", { text: "How each hypothesis moved: certainty (0 to 1) and, for the alarm hypotheses, the exclusion status after each stage." }),
    el("thead", {}, el("tr", {}, el("th", { scope: "col", text: "Hypothesis" }),
      ...chart.stages.map((s) => el("th", { scope: "col", text: `${s.number}. ${s.label}` })))),
    el("tbody", {}, ...rows));
  // The bars are drawn by width; the style attribute is set through the DOM (the policy allows no inline style text).
  for (const bar of table.querySelectorAll("[data-width]")) bar.style.width = `${bar.dataset.width}%`;
  $("#class-chart-box").replaceChildren(table,
    el("details", {}, el("summary", { text: "The chart in words" }),
      el("ul", {}, ...chart.rows.map((row) => el("li", { text: row.text })))));
}

async function whyNot() {
  const hid = $("#class-whynot-button").dataset.hypothesis;
  let info;
  try {
    info = await api(`/api/v1/teach/why-not?id=${encodeURIComponent(hid)}`, teach.open.known);
  } catch (error) {
    showStatus(error.message);
    return;
  }
  $("#class-whynot").replaceChildren(el("h3", { id: "class-whynot-heading", tabindex: "-1", text: `Why not ${info.label}?` }),
    ...whyNotView(info, true));
  $("#class-whynot-heading").focus();
}

// WHY NOT in words: the verdict, what counts for and against, what rules its rules out, what could still count.
function whyNotView(info, withLearning) {
  const list = (title, items, render = (i) => el("li", { text: i })) => items.length
    ? [el("p", { text: title }), el("ul", {}, ...items.map(render))] : [];
  return [
    el("p", { text: info.verdict }),
    ...list("What counts for it:", info.for),
    ...list("What counts against it:", info.against),
    ...list("What the case says that rules its rules out:", info.ruled_out,
      (r) => el("li", { text: `it needs ${r.needs}${r.found ? `; the case says ${r.found}` : ""}` })),
    ...list("Unknown findings that could still count for it:", info.missing,
      (m) => el("li", {}, el("button", { type: "button", class: "linkish", onclick: () => focusField(m.fact), text: m.question }))),
    ...(info.exclusion ? [el("p", {}, el("strong", { text: "Rule out the worst first: " }),
      `${info.exclusion.text}.`, info.exclusion.to_exclude.length ? ` To exclude it: ${info.exclusion.to_exclude.join(" ")}` : "")] : []),
    ...(withLearning && info.learning ? [learningPoints(info.learning)] : []),
  ];
}

function nextStage() {
  location.hash = fragmentFor(teach.open.id, teach.open.stage + 1);
}

async function copyShare() {
  const field = $("#class-share");
  field.select();
  try {
    await navigator.clipboard.writeText(field.value);
    showStatus("Link copied: it opens this case at this stage.", "info");
  } catch (_) {
    showStatus("Select the link and copy it.", "info");
  }
}

function onFragment() {
  const wanted = readFragment();
  if (wanted.case) openCase(wanted.case, wanted.stage);
}

async function startTeaching() {
  // app.js builds the page first (it sets data-ready); the fragment is read once it has.
  if (document.body.dataset.ready !== "true") {
    setTimeout(startTeaching, 30);
    return;
  }
  $("#lib-filters").addEventListener("input", () => teach.library && renderLibrary());
  $("#lib-filters").addEventListener("submit", (event) => event.preventDefault());
  $("#class-form").addEventListener("submit", commit);
  $("#class-next").addEventListener("click", nextStage);
  $("#class-close").addEventListener("click", closeCase);
  $("#class-copy").addEventListener("click", copyShare);
  $("#class-whynot-button").addEventListener("click", whyNot);
  $("#mode-teach").addEventListener("click", () => loadLibrary().catch((error) => showStatus(error.message)));
  window.addEventListener("hashchange", onFragment);
  if (readFragment().case) onFragment();
  else if (state.mode === "teach") loadLibrary();
  document.body.dataset.teachReady = "true";
}

document.addEventListener("DOMContentLoaded", startTeaching);
