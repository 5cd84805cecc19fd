/// The dashboard's page, style and script: the project's own, served by the broker at `/`,
/// `/dashboard.css` and `/dashboard.js` (no CDN, nothing fetched from elsewhere). Kept in the
/// binary so an installed `zerotask` needs no files beside it.
enum DashboardAssets {
    /// `index.html`.
    static let html = #"""
<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>ZeroTask</title>
<link rel="stylesheet" href="/dashboard.css">
</head>
<body>
<header>
  <h1>ZeroTask</h1>
  <span id="summary" class="muted">connecting…</span>
  <span id="updated" class="muted"></span>
</header>
<main>
  <section class="charts">
    <figure><figcaption>Tasks per second, last 15 min <span class="key ok">succeeded</span> <span class="key bad">failed</span></figcaption><canvas id="rate" width="600" height="160"></canvas></figure>
    <figure><figcaption>Queue depth per method</figcaption><canvas id="depth" width="600" height="160"></canvas></figure>
    <figure><figcaption>Run time and queue wait (p50 / p90 / p99, latest tasks)</figcaption><canvas id="latency" width="600" height="160"></canvas></figure>
  </section>
  <section>
    <h2>Nodes</h2>
    <div class="scroll"><table id="nodes"><thead><tr><th>node</th><th>tags</th><th>workers</th><th>busy</th><th>methods</th><th>last seen</th><th>crashes</th><th>tasks done</th></tr></thead><tbody></tbody></table></div>
  </section>
  <section id="schedules-section" hidden>
    <h2>Schedules</h2>
    <div class="scroll"><table id="schedules"><thead><tr><th>schedule</th><th>method</th><th>spec</th><th>next tick</th><th>last tick</th><th>last task</th><th>from</th></tr></thead><tbody></tbody></table></div>
  </section>
  <section>
    <h2>Methods</h2>
    <div class="scroll"><table id="methods"><thead><tr><th>method</th><th>signature</th><th>queued</th><th>running</th><th>rate</th><th>limits</th><th>queue</th></tr></thead><tbody></tbody></table></div>
  </section>
  <section>
    <h2>Tasks</h2>
    <form id="filters">
      <label>state <select name="state"><option value="">any</option><option>queued</option><option>assigned</option><option>running</option><option>finished</option><option>failed</option><option>cancelled</option></select></label>
      <label>method <input name="method" autocomplete="off"></label>
      <label>client <input name="client_id" autocomplete="off"></label>
      <label>node <input name="node_id" autocomplete="off"></label>
      <label>since <input name="since" type="datetime-local"></label>
      <label>until <input name="until" type="datetime-local"></label>
      <label>text <input name="text" autocomplete="off" placeholder="in params or error"></label>
      <button type="submit">Search</button>
      <button type="button" id="failed-only">Failed</button>
    </form>
    <div class="actions">
      <button type="button" id="retry-all">Retry all matching</button>
      <button type="button" id="cancel-all">Cancel all matching</button>
      <span id="action-result" class="muted"></span>
    </div>
    <div class="scroll"><table id="tasks"><thead><tr><th>task</th><th>state</th><th>method</th><th>tags</th><th>client</th><th>node</th><th>attempts</th><th>submitted</th><th>error</th><th></th></tr></thead><tbody></tbody></table></div>
    <div class="pager"><button type="button" id="newer">← newer</button><span id="page" class="muted"></span><button type="button" id="older">older →</button></div>
  </section>
  <section id="task" hidden>
    <h2>Task <code id="task-id"></code> <button type="button" id="task-close">close</button></h2>
    <dl id="task-fields"></dl>
    <div id="task-steps-section" hidden>
      <h3>Workflow tasks</h3>
      <div class="scroll"><table id="task-steps"><thead><tr><th>#</th><th>task</th><th>method</th><th>state</th></tr></thead><tbody></tbody></table></div>
    </div>
    <h3>Timeline</h3>
    <ol id="task-timeline"></ol>
  </section>
</main>
<script src="/dashboard.js"></script>
</body>
</html>
"""#

    /// `dashboard.css`.
    static let css = #"""
:root { --bg: #f7f7f5; --fg: #1d1d1b; --muted: #6b6b66; --line: #d9d9d3; --ok: #2f7d32; --bad: #c0392b; --accent: #2d5b8a; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.4 system-ui, sans-serif; background: var(--bg); color: var(--fg); }
header { display: flex; flex-wrap: wrap; gap: .5rem 1rem; align-items: baseline; padding: .75rem 1rem; background: var(--fg); color: var(--bg); }
header h1 { margin: 0; font-size: 1.2rem; }
header .muted { color: #bdbdb5; }
main { padding: 1rem; max-width: 1400px; margin: 0 auto; }
h2 { font-size: 1.05rem; margin: 1.5rem 0 .5rem; }
.muted { color: var(--muted); }
.charts { display: grid; grid-template-columns: repeat(auto-fit, minmax(320px, 1fr)); gap: 1rem; }
figure { margin: 0; background: #fff; border: 1px solid var(--line); border-radius: 6px; padding: .5rem; }
figcaption { font-size: .85rem; color: var(--muted); margin-bottom: .25rem; }
canvas { width: 100%; height: 160px; display: block; }
.key::before { content: ""; display: inline-block; width: .7em; height: .7em; margin: 0 .2em 0 .5em; border-radius: 2px; }
.key.ok::before { background: var(--ok); } .key.bad::before { background: var(--bad); }
.scroll { overflow-x: auto; background: #fff; border: 1px solid var(--line); border-radius: 6px; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: .35rem .6rem; border-bottom: 1px solid var(--line); white-space: nowrap; }
th { font-weight: 600; font-size: .85rem; color: var(--muted); }
td.error { white-space: normal; color: var(--bad); max-width: 28rem; }
#nodes td:nth-child(5) { white-space: normal; min-width: 16rem; }
.tag { display: inline-block; padding: 0 .4em; margin: 0 .2em .1em 0; border: 1px solid var(--line); border-radius: 3px; font-size: .8rem; color: var(--accent); }
tr.state-failed td:nth-child(2), tr.state-cancelled td:nth-child(2) { color: var(--bad); }
tr.state-finished td:nth-child(2) { color: var(--ok); }
#task-steps tr.state-failed td:nth-child(4), #task-steps tr.state-cancelled td:nth-child(4) { color: var(--bad); }
#task-steps tr.state-finished td:nth-child(4) { color: var(--ok); }
tr.paused td:first-child { color: var(--bad); }
a { color: var(--accent); }
form { display: flex; flex-wrap: wrap; gap: .5rem; align-items: end; margin-bottom: .5rem; }
label { display: flex; flex-direction: column; font-size: .8rem; color: var(--muted); }
input, select, button { font: inherit; padding: .3rem .5rem; border: 1px solid var(--line); border-radius: 4px; background: #fff; }
button { cursor: pointer; background: var(--accent); color: #fff; border-color: var(--accent); }
button:disabled { opacity: .4; cursor: default; }
.actions, .pager { display: flex; flex-wrap: wrap; gap: .5rem; align-items: center; margin: .5rem 0; }
#task { background: #fff; border: 1px solid var(--line); border-radius: 6px; padding: .5rem 1rem; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: .25rem 1rem; }
dt { color: var(--muted); } dd { margin: 0; white-space: pre-line; }
pre { margin: 0; white-space: pre-wrap; word-break: break-all; font-size: .85rem; }
@media (max-width: 640px) {
  main { padding: .5rem; }
  form label { flex: 1 1 45%; }
  th, td { padding: .3rem .4rem; }
  dl { grid-template-columns: 1fr; }
}
"""#

    /// `dashboard.js`.
    static let js = #"""
// The ZeroTask dashboard: polls /api/overview every 2 s, draws the charts on canvases, and
// reads task lists and task pages from the broker's store through /api/tasks and /api/task.
"use strict";
const $ = (id) => document.getElementById(id);
const state = { cursors: [null], page: 0, next: null, lastDone: null, lastAt: 0 };

async function api(path, body) {
  const init = body === undefined ? {} : { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) };
  const r = await fetch(path, init);
  const j = await r.json().catch(() => ({ error: { message: r.statusText } }));
  if (!r.ok) throw new Error((j.error && j.error.message) || r.statusText);
  return j;
}

function cell(row, text, cls) {
  const td = row.insertCell();
  td.textContent = text === undefined || text === null ? "" : String(text);
  if (cls) td.className = cls;
  return td;
}

const time = (t) => (t ? new Date(t * 1000).toLocaleString() : "");
const ms = (s) => (s === undefined ? "–" : s < 1 ? (s * 1000).toFixed(1) + " ms" : s.toFixed(2) + " s");

// A canvas sized to its box in device pixels, with a 2D context in CSS pixels.
function surface(id) {
  const c = $(id), ratio = window.devicePixelRatio || 1;
  const w = c.clientWidth || 600, h = c.clientHeight || 160;
  if (c.width !== Math.round(w * ratio)) { c.width = Math.round(w * ratio); c.height = Math.round(h * ratio); }
  const g = c.getContext("2d");
  g.setTransform(ratio, 0, 0, ratio, 0, 0);
  g.clearRect(0, 0, w, h);
  g.font = "11px system-ui, sans-serif";
  return { g, w, h };
}

function axes(g, w, h, max, label) {
  g.strokeStyle = "#d9d9d3"; g.fillStyle = "#6b6b66";
  g.beginPath(); g.moveTo(40, 8); g.lineTo(40, h - 18); g.lineTo(w - 4, h - 18); g.stroke();
  g.fillText(String(max), 4, 14); g.fillText("0", 28, h - 20);
  if (label) g.fillText(label, 44, h - 4);
}

function drawRate(a) {
  const { g, w, h } = surface("rate");
  const n = a.succeeded.length, top = Math.max(1, ...a.succeeded, ...a.failed);
  axes(g, w, h, top, "15 min ago … now");
  const x = (i) => 40 + ((w - 44) * i) / (n - 1), y = (v) => h - 18 - ((h - 26) * v) / top;
  for (const [series, color] of [[a.succeeded, "#2f7d32"], [a.failed, "#c0392b"]]) {
    g.strokeStyle = color; g.lineWidth = 1.5; g.beginPath();
    series.forEach((v, i) => (i ? g.lineTo(x(i), y(v)) : g.moveTo(x(i), y(v))));
    g.stroke();
  }
  g.lineWidth = 1;
}

function bars(id, items, unit) {
  const { g, w, h } = surface(id);
  if (!items.length) { g.fillStyle = "#6b6b66"; g.fillText("nothing yet", 48, h / 2); axes(g, w, h, 0); return; }
  const top = Math.max(...items.map((b) => b.value), unit ? 0.001 : 1);
  axes(g, w, h, unit ? ms(top) : top);
  const slot = (w - 48) / items.length;
  items.forEach((b, i) => {
    const bh = ((h - 30) * b.value) / top, bx = 44 + i * slot;
    g.fillStyle = b.color || "#2d5b8a";
    g.fillRect(bx, h - 18 - bh, Math.max(2, slot - 6), bh);
    g.fillStyle = "#1d1d1b";
    g.fillText(b.label.slice(0, Math.max(4, Math.floor(slot / 6))), bx, h - 6);
  });
}

function drawDepth(methods) {
  bars("depth", methods.filter((m) => m.name !== "*").map((m) => ({ label: m.name, value: m.queued || 0 })));
}

function drawLatency(a) {
  const items = [];
  for (const [name, p, color] of [["run", a.run, "#2d5b8a"], ["wait", a.queue_wait, "#8a6d2d"]]) {
    for (const k of ["p50", "p90", "p99"]) items.push({ label: name + " " + k, value: p[k] || 0, color });
  }
  bars("latency", items, "s");
}

// A cell of tags, each a chip ("gpu", "eu"); empty when there are none.
function tagsCell(row, tags) {
  const td = row.insertCell();
  td.className = "tags";
  for (const t of tags || []) {
    const span = document.createElement("span");
    span.className = "tag"; span.textContent = t;
    td.append(span);
  }
  return td;
}

// A link to a task's page.
function taskLink(id) {
  const link = document.createElement("a");
  link.href = "#task=" + encodeURIComponent(id); link.textContent = id;
  return link;
}

function fillNodes(nodes) {
  const body = $("nodes").tBodies[0];
  body.replaceChildren();
  for (const n of nodes) {
    const r = body.insertRow(), s = n.status || {};
    r.dataset.nodeId = n.node_id;
    cell(r, n.node_id + (n.awaiting_reconnect ? " (away)" : ""));
    tagsCell(r, n.tags);
    cell(r, n.workers);
    cell(r, s.running !== undefined ? s.running : (n.assigned || []).length);
    cell(r, n.serves_any ? "any (seed)" : (n.methods || []).map((m) => m.name || m).join(", "));
    cell(r, n.last_seen !== undefined ? Number(n.last_seen).toFixed(1) + " s ago" : "");
    cell(r, s.crashes !== undefined ? s.crashes : "");
    cell(r, s.tasks_finished !== undefined ? s.tasks_finished + (s.tasks_failed || 0) : "");
  }
}

function fillSchedules(list) {
  $("schedules-section").hidden = list.length === 0;
  const body = $("schedules").tBodies[0];
  body.replaceChildren();
  for (const s of list) {
    const r = body.insertRow();
    cell(r, s.name); cell(r, s.method);
    cell(r, s.cron !== undefined ? `cron ${s.cron} (${s.time_zone})` : `every ${s.every} s`);
    cell(r, s.next_tick || ""); cell(r, s.last_tick || "");
    cell(r, s.last_task_id || "", s.last_error ? "error" : undefined);
    if (s.last_error) r.cells[5].title = s.last_error;
    cell(r, s.origin);
  }
}

function signature(m) {
  if (m.serves_any) return "any method";
  const params = (m.params || []).map((p) => p.name + ": " + p.type).join(", ");
  return "(" + params + ")" + (m.returns ? " → " + m.returns : "");
}

function fillMethods(methods, done) {
  const now = Date.now() / 1000, body = $("methods").tBodies[0];
  const elapsed = state.lastDone ? now - state.lastAt : 0;
  body.replaceChildren();
  for (const m of methods) {
    const r = body.insertRow();
    cell(r, m.name); cell(r, signature(m)); cell(r, m.delayed ? `${m.queued} (${m.delayed} delayed)` : m.queued); cell(r, m.running);
    const before = state.lastDone ? state.lastDone[m.name] || 0 : null;
    cell(r, before === null || elapsed <= 0 ? "…" : (((done[m.name] || 0) - before) / elapsed).toFixed(1) + "/s");
    cell(r, limits(m));
    const act = r.insertCell();
    if (m.name !== "*") {
      r.dataset.method = m.name;
      if (m.paused) r.classList.add("paused");
      act.append(button(m.paused ? "resume" : "pause", () => queueAct(m.paused ? "resume" : "pause", m.name)));
      if (m.queued) act.append(button("purge", () => queueAct("purge", m.name)));
    }
  }
  state.lastDone = done; state.lastAt = now;
}

// "max 4, 100/s, paused": the limits in force (the manifest's or the broker's) and the pause.
function limits(m) {
  const parts = [];
  if (m.concurrency) parts.push("max " + m.concurrency);
  if (m.rate) parts.push(typeof m.rate === "string" ? m.rate : m.rate.limit + " burst " + m.rate.burst);
  if (m.paused) parts.push("paused");
  return parts.join(", ");
}

async function queueAct(action, method) {
  if (action === "purge" && !confirm(`cancel every queued task of ${method}?`)) return;
  try {
    const r = await api("/api/queue", { method, action });
    $("action-result").textContent = `${method}: ${action}d` + (r.purged !== undefined ? ` (${r.purged} cancelled)` : "");
  } catch (e) { $("action-result").textContent = e.message; }
  refresh();
}

async function refresh() {
  try {
    const o = await api("/api/overview");
    drawRate(o.activity); drawDepth(o.methods); drawLatency(o.activity);
    fillNodes(o.nodes); fillMethods(o.methods, o.activity.done_by_method || {});
    fillSchedules((o.schedules && o.schedules.schedules) || []);
    const s = o.stats;
    $("summary").textContent = `${s.queued} queued · ${s.running + s.assigned} running · ${s.finished} finished · ${s.failed} failed · ${s.nodes} nodes`;
    $("updated").textContent = "updated " + new Date().toLocaleTimeString();
    document.body.dataset.refreshed = String(Number(document.body.dataset.refreshed || 0) + 1);
  } catch (e) {
    $("summary").textContent = "cannot reach the broker: " + e.message;
  }
}

// The filters as the API reads them: times in seconds since 1970.
function filters() {
  const f = {};
  for (const el of $("filters").elements) {
    if (!el.name || !el.value) continue;
    f[el.name] = el.type === "datetime-local" ? new Date(el.value).getTime() / 1000 : el.value;
  }
  return f;
}

async function loadTasks() {
  const q = new URLSearchParams(filters());
  q.set("limit", "25");
  const cursor = state.cursors[state.page];
  if (cursor) q.set("cursor", cursor);
  try {
    const page = await api("/api/tasks?" + q);
    state.next = page.next_cursor;
    const body = $("tasks").tBodies[0];
    body.replaceChildren();
    for (const t of page.tasks) {
      const r = body.insertRow();
      r.className = "state-" + t.state;
      r.dataset.taskId = t.task_id;
      r.insertCell().append(taskLink(t.task_id));
      cell(r, t.delayed ? t.state + " (delayed)" : t.state); cell(r, t.method); tagsCell(r, t.tags); cell(r, t.client_id); cell(r, t.node_id); cell(r, t.attempts);
      cell(r, time(t.created)); cell(r, t.error ? t.error.message : "", "error");
      const act = r.insertCell();
      if (t.state === "failed" || t.state === "cancelled") act.append(button("retry", () => act1("retry", t.task_id)));
      if (["queued", "assigned", "running"].includes(t.state)) act.append(button("cancel", () => act1("cancel", t.task_id)));
    }
    $("page").textContent = "page " + (state.page + 1) + (page.tasks.length ? "" : " (empty)");
    $("newer").disabled = state.page === 0;
    $("older").disabled = !state.next;
  } catch (e) {
    $("page").textContent = e.message;
  }
}

function button(text, onclick) {
  const b = document.createElement("button");
  b.type = "button"; b.textContent = text; b.className = "act-" + text; b.onclick = onclick;
  return b;
}

function report(verb, r) {
  const done = r.retried || r.cancelled || [];
  $("action-result").textContent = `${verb}: ${done.length}` + (r.skipped.length ? `, skipped ${r.skipped.length}` : "");
}

async function act1(verb, id) {
  try { report(verb, await api("/api/" + verb, { task_ids: [id] })); } catch (e) { $("action-result").textContent = e.message; }
  loadTasks();
}

async function actAll(verb) {
  const f = filters();
  if (!Object.keys(f).length) { $("action-result").textContent = "set a filter first"; return; }
  if (!confirm(`${verb} every task matching these filters?`)) return;
  try { report(verb, await api("/api/" + verb, f)); } catch (e) { $("action-result").textContent = e.message; }
  loadTasks();
}

async function showTask() {
  const m = location.hash.match(/^#task=(.+)$/);
  $("task").hidden = !m;
  if (!m) return;
  const id = decodeURIComponent(m[1]);
  $("task-id").textContent = id;
  try {
    const t = await api("/api/task?id=" + encodeURIComponent(id));
    const dl = $("task-fields");
    dl.replaceChildren();
    const field = (k, v, json) => {
      const dt = document.createElement("dt"), dd = document.createElement("dd");
      dt.textContent = k;
      if (json) { const pre = document.createElement("pre"); pre.textContent = JSON.stringify(v, null, 2); dd.append(pre); } else dd.textContent = v;
      dl.append(dt, dd);
    };
    field("state", t.state); field("method", t.method); field("client", t.client_id); field("node", t.node_id || "");
    if (t.tags) field("requires tags", t.tags.join(", "));
    field("attempts", t.attempts + " (max retries " + t.max_retries + ")");
    if (t.not_before) field("not before", time(t.not_before) + (t.delayed ? " (waiting)" : ""));
    if (t.retry) field("retry", t.retry, true);
    field("params", t.params, true);
    if (t.result !== undefined) field("result", t.result, true);
    if (t.error) field("error", t.error, true);
    if (t.progress) field("progress", t.progress, true);
    if (t.history) field("failed attempts", t.history.map((a) => `#${a.attempt} on ${a.node_id || "?"} at ${time(a.at)}: ${a.error.message} (code ${a.error.code})`).join("\n"));
    fillSteps(t.steps);
    const ol = $("task-timeline");
    ol.replaceChildren();
    for (const e of t.timeline) {
      const li = document.createElement("li");
      li.textContent = (e.at ? time(e.at) + " — " : "") + e.event + (e.node_id ? " on " + e.node_id : "") + (e.detail ? ": " + e.detail : "") + (e.progress ? " " + JSON.stringify(e.progress) : "");
      li.dataset.event = e.event;
      ol.append(li);
    }
    $("task").scrollIntoView({ block: "nearest" });
  } catch (e) {
    $("task-fields").textContent = e.message;
  }
}

// A workflow's tasks in order, each with its state and a link to its own page.
function fillSteps(steps) {
  $("task-steps-section").hidden = !steps;
  const body = $("task-steps").tBodies[0];
  body.replaceChildren();
  (steps || []).forEach((step, i) => {
    const r = body.insertRow();
    r.className = "state-" + step.state;
    cell(r, step.callback ? "callback" : i + 1);
    const id = r.insertCell();
    if (step.task_id) { id.append(taskLink(step.task_id)); r.dataset.taskId = step.task_id; }
    cell(r, step.method); cell(r, step.state);
  });
}

$("filters").addEventListener("submit", (e) => { e.preventDefault(); state.cursors = [null]; state.page = 0; loadTasks(); });
$("failed-only").onclick = () => { $("filters").elements.state.value = "failed"; state.cursors = [null]; state.page = 0; loadTasks(); };
$("older").onclick = () => { if (state.next) { state.cursors[++state.page] = state.next; loadTasks(); } };
$("newer").onclick = () => { if (state.page > 0) { state.page--; loadTasks(); } };
$("retry-all").onclick = () => actAll("retry");
$("cancel-all").onclick = () => actAll("cancel");
$("task-close").onclick = () => { location.hash = ""; };
window.addEventListener("hashchange", showTask);

refresh(); loadTasks(); showTask();
setInterval(refresh, 2000);
// The first page follows the broker by itself; later pages stay put while read.
setInterval(() => { if (state.page === 0) loadTasks(); }, 2000);
"""#
}
