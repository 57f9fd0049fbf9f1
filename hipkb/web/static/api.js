// The API page: FastAPI's OpenAPI document laid out as a list, with no CDN.
"use strict";

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === "text") node.textContent = String(value);
    else node.setAttribute(key, String(value));
  }
  node.append(...children.filter((c) => c !== null && c !== undefined));
  return node;
}

async function start() {
  const box = document.getElementById("endpoints");
  let doc;
  try {
    doc = await (await fetch("/api/v1/openapi.json")).json();
  } catch (error) {
    box.replaceChildren(el("p", { text: `Could not load the OpenAPI document: ${error}` }));
    return;
  }
  box.replaceChildren(el("p", { class: "hint", text: `${doc.info.title} ${doc.info.version}: ${doc.info.description || ""}` }));
  for (const [path, methods] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(methods)) {
      const params = (op.parameters || []).map((p) => el("li", {}, el("code", { text: p.name }),
        ` (${p.in}${p.required ? ", required" : ""}): ${p.description || p.schema?.pattern || p.schema?.type || ""}`));
      const body = op.requestBody ? el("p", { text: `Body: ${Object.keys(op.requestBody.content || {}).join(" or ")}` }) : null;
      box.append(el("section", { class: "card", id: `${method}-${path}` },
        el("h2", {}, el("code", { text: `${method.toUpperCase()} ${path}` })),
        el("p", { text: op.summary || "" }),
        params.length ? el("ul", {}, ...params) : null, body));
    }
  }
}

document.addEventListener("DOMContentLoaded", start);
