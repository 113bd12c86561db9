// The web view of kubectl fastdev up: draws the model's state (pkg/events) as the server sends it
// over server-sent events. Every text goes in as text (textContent), never as HTML.
"use strict";

const SVG = "http://www.w3.org/2000/svg";

// h makes an element: h("td", {class: "ok"}, "yes", child...)
function h(tag, attrs, ...kids) {
  const el = tag.startsWith("svg:") ? document.createElementNS(SVG, tag.slice(4)) : document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v !== undefined && v !== null && v !== false) el.setAttribute(k, v);
  }
  for (const k of kids) {
    if (k === null || k === undefined) continue;
    el.append(k instanceof Node ? k : document.createTextNode(String(k)));
  }
  return el;
}

function fill(id, ...kids) {
  const el = document.getElementById(id);
  el.replaceChildren(...kids.filter((k) => k !== null && k !== undefined));
  return el;
}

function dur(ms) {
  if (!ms || ms <= 0) return "-";
  if (ms < 10) return ms.toFixed(1) + "ms";
  if (ms < 1000) return Math.round(ms) + "ms";
  if (ms < 60000) return (ms / 1000).toFixed(ms < 10000 ? 2 : 1) + "s";
  const m = Math.floor(ms / 60000);
  return m + "m" + Math.round((ms % 60000) / 1000) + "s";
}

function bytes(n) {
  const u = ["B", "KiB", "MiB", "GiB"];
  let i = 0;
  while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; }
  return (i ? n.toFixed(1) : n) + " " + u[i];
}

function ago(t, now) {
  if (!t || t.startsWith("0001")) return "-";
  const s = Math.max(0, Math.floor((now - Date.parse(t)) / 1000));
  return s + "s ago";
}

// safeHref keeps links the page means: the editor's and the forwards' (loopback http).
function safeHref(u) {
  return /^vscode:\/\/file\//.test(u) || /^http:\/\/(127\.0\.0\.1|localhost|\[::1\]|0\.0\.0\.0|[\d.]+)(:\d+)?\/?/.test(u) ? u : null;
}

let state = null;

function drawPods(s, now) {
  const rows = [];
  for (const w of s.workloads) {
    const pods = s.pods.filter((p) => p.workload === w);
    if (pods.length === 0) rows.push(h("tr", {}, h("td", {}, w), h("td", { class: "dim", colspan: 7 }, "(no pods yet)")));
    for (const p of pods) {
      const phaseClass = p.phase.startsWith("Running") && !p.phase.includes("not ready") ? "ok" : p.phase === "-" ? "dim" : "bad";
      rows.push(h("tr", { "data-pod": p.name },
        h("td", { "data-label": "Workload" }, p.workload), h("td", { "data-label": "Pod" }, p.name),
        h("td", { "data-label": "Phase", class: phaseClass }, p.phase),
        h("td", { "data-label": "Connected", class: p.connected ? "ok" : "bad" }, p.connected ? "yes" : "no"),
        h("td", { "data-label": "Synced", class: p.converged ? "ok" : "warn" }, p.converged ? "yes" : p.stale ? "stale" : "not yet"),
        h("td", { "data-label": "Last sync" }, ago(p.lastSync, now)), h("td", { "data-label": "Latency" }, dur(p.latencyMs)),
        h("td", { "data-label": "Last error", class: p.lastError ? "bad err" : "err" }, p.lastError || "-")));
    }
  }
  fill("pod-rows", ...rows);
  const bars = [];
  for (const p of s.pods) {
    if (p.progress) {
      const pr = p.progress;
      const left = pr.leftMs >= 0 ? ", " + dur(pr.leftMs) + " left" : "";
      const text = `${p.name}: ${pr.files}/${pr.totalFiles} files, ${bytes(pr.bytes)}/${bytes(pr.totalBytes)}, ${bytes(pr.rateBps)}/s${left}`;
      bars.push(h("div", { class: "bar" }, h("span", { class: "mono" }, text),
        h("progress", { max: pr.totalBytes || 1, value: pr.bytes, "aria-label": text })));
    }
    if (p.step) {
      const text = `${p.name}: step "${p.step.name}" running for ${dur(now - Date.parse(p.step.started))}: ${p.step.lastLine}`;
      bars.push(h("div", { class: "bar" }, h("span", { class: "mono" }, text), h("progress", { "aria-label": text })));
    }
  }
  fill("progress", ...bars);
}

function drawForwards(s) {
  fill("forwards", ...s.forwards.map((f) => {
    const href = safeHref(f.url);
    return h("li", {}, href ? h("a", { href: href, target: "_blank", rel: "noopener" }, f.url) : f.url,
      h("span", { class: "dim" }, ` → ${f.workload} port ${f.remote}`));
  }));
}

// STAGES split an update's edit -> running time as the plain lines do.
const STAGES = [
  ["q", "quiet window", (u) => u.quietMs],
  ["s", "send", (u) => Math.max(0, u.sendMs - u.stepsMs - u.restartMs - u.writeMs)],
  ["w", "write", (u) => u.writeMs],
  ["st", "steps", (u) => u.stepsMs],
  ["r", "restart", (u) => u.restartMs],
];

function drawChart(s) {
  const us = s.updates.filter((u) => u.latencyMs > 0);
  fill("p50", s.p50Ms > 0 ? `p50 edit → running ${dur(s.p50Ms)} over ${us.filter((u) => !u.err).length} updates` : "no edits yet");
  fill("legend", ...STAGES.map(([c, name]) => h("li", {}, h("span", { class: "swatch " + c }), name)),
    h("li", {}, h("span", { class: "swatch o" }), "other"));
  const W = 800, H = 220, top = 10, bottom = 20, left = 48;
  const max = Math.max(1, ...us.map((u) => u.latencyMs));
  const y = (ms) => H - bottom - (ms / max) * (H - top - bottom);
  const svg = h("svg:svg", { viewBox: `0 0 ${W} ${H}`, preserveAspectRatio: "none", role: "img",
    "aria-label": us.length ? `edit to running latency of ${us.length} updates, p50 ${dur(s.p50Ms)}` : "no edits yet" });
  svg.append(h("svg:text", { x: 4, y: top + 10, class: "axis" }, dur(max)), h("svg:text", { x: 4, y: H - bottom, class: "axis" }, "0"));
  const n = Math.max(us.length, 20), bw = (W - left - 4) / n;
  us.forEach((u, i) => {
    const g = h("svg:g", { class: u.err ? "upd failed" : "upd", "data-latency": Math.round(u.latencyMs) });
    g.append(h("svg:title", {}, `${u.pod} ${new Date(u.time).toLocaleTimeString()}: ${dur(u.latencyMs)}` + (u.err ? " FAILED" : "")));
    let acc = 0;
    const x = left + i * bw + 1, width = Math.max(1, bw - 2);
    for (const [c, , f] of STAGES) {
      const v = Math.min(f(u), u.latencyMs - acc);
      if (v <= 0) continue;
      g.append(h("svg:rect", { x, width, y: y(acc + v), height: y(acc) - y(acc + v), class: c }));
      acc += v;
    }
    if (u.latencyMs > acc) g.append(h("svg:rect", { x, width, y: y(u.latencyMs), height: y(acc) - y(u.latencyMs), class: "o" }));
    svg.append(g);
  });
  if (s.p50Ms > 0) {
    svg.append(h("svg:line", { x1: left, x2: W, y1: y(s.p50Ms), y2: y(s.p50Ms), class: "p50line" }),
      h("svg:text", { x: left + 2, y: y(s.p50Ms) - 3, class: "axis" }, "p50 " + dur(s.p50Ms)));
  }
  fill("chart", svg);
  fill("updates", ...s.updates.slice(-30).reverse().map((u) => h("li", { class: u.err ? "bad" : "" }, u.line)));
}

function drawErrors(s) {
  if (s.errors.length === 0) {
    fill("error-list", h("p", { class: "ok" }, "no open errors"));
    return;
  }
  fill("error-list", ...s.errors.map((e) => {
    const pre = h("pre", {});
    e.lines.forEach((l, i) => {
      if (i > 0) pre.append("\n");
      pre.append(l.text);
      for (const k of l.links || []) {
        const href = safeHref(k.href);
        pre.append(h("span", { class: "loc" }, "→ ", href ? h("a", { href: href, title: "open in the editor" }, k.local) : k.local,
          " ", h("span", { class: "abs" }, k.abs), " ",
          h("button", { type: "button", "data-copy": k.abs, "aria-label": "copy " + k.abs }, "copy")));
      }
    });
    const cls = "error " + (e.kind === "waiting" ? "waiting" : "");
    return h("article", { class: cls, "data-type": e.type }, h("h3", {}, e.header), pre);
  }));
}

function drawOutput(s) {
  const withOutput = s.pods.filter((p) => p.output && p.output.length);
  if (withOutput.length === 0) {
    fill("output-list", h("p", { class: "dim" }, "no step has run since up started"));
    return;
  }
  fill("output-list", ...withOutput.map((p) => h("details", { open: "" }, h("summary", {}, p.name),
    h("pre", {}, p.output.join("\n")))));
}

// drawn remembers what the parts with links and buttons last drew, so a redraw that changes nothing
// there leaves the keyboard's focus where it was.
const drawn = { seq: -1, errors: null, forwards: null, output: null };

function draw() {
  if (!state) return;
  const s = state, now = Date.now();
  drawPods(s, now); // times move on every second
  if (s.seq === drawn.seq) return;
  drawn.seq = s.seq;
  document.title = (s.errors.length ? `✖ ${s.errors.length} · ` : "") + (s.title || "kubectl fastdev up");
  fill("title", s.title || "kubectl fastdev up");
  drawChart(s);
  const errs = JSON.stringify(s.errors.map((e) => [e.id, e.pods]));
  if (errs !== drawn.errors) { drawn.errors = errs; drawErrors(s); }
  const fw = JSON.stringify(s.forwards);
  if (fw !== drawn.forwards) { drawn.forwards = fw; drawForwards(s); }
  const out = JSON.stringify(s.pods.map((p) => [p.name, p.output]));
  if (out !== drawn.output) { drawn.output = out; drawOutput(s); }
  fill("notes", ...s.notes.slice().reverse().map((n) =>
    h("li", { class: "note-" + n.level }, new Date(n.time).toLocaleTimeString() + "  " + n.text)));
}

function connect() {
  const live = document.getElementById("live");
  const es = new EventSource("/events");
  es.onopen = () => { live.textContent = "live"; live.className = "ok"; };
  es.onerror = () => { live.textContent = "disconnected: is up still running?"; live.className = "bad"; };
  es.onmessage = (ev) => { state = JSON.parse(ev.data); draw(); };
}

document.addEventListener("click", (ev) => {
  const b = ev.target.closest("button[data-copy]");
  if (b && navigator.clipboard) {
    navigator.clipboard.writeText(b.dataset.copy).then(() => { b.textContent = "copied"; }, () => { b.textContent = "select it"; });
  }
});

document.addEventListener("DOMContentLoaded", () => {
  connect();
  setInterval(draw, 1000); // "5s ago" and step timers move on without a change
});
