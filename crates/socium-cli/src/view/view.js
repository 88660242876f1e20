// socium view: the page's whole script. Plain modern JavaScript, no library, no build step.
// It reads the run's data from the JSON block `#data` (written by crates/socium-cli/src/view.rs)
// and draws the episode tab (graph, dialogue, scrubber, beliefs, totals) and the metrics tab.
//
// Hooks for tests and benchmarks: `#list[data-rows]` is the number of utterances of the episode
// (the list renders only the rows in view), `#step[data-step]` the current step, graph nodes are
// `circle.node[data-agent]` with the class `speaker` or `audience`, and `body[data-ready]` is set
// once the first episode is drawn (with a `socium-ready` performance mark).
"use strict";
(() => {
  const DATA = JSON.parse(document.getElementById("data").textContent);
  const SVG = "http://www.w3.org/2000/svg";
  const ROW_H = 46; // must equal --row in view.css: rows are placed by index, not measured
  const OVERSCAN = 8;
  // Browsers cap an element's height (Chromium near 2^25 px, 730,000 rows): past MAX_PX the
  // spacer stays MAX_PX tall and a scroll position maps to a row by proportion.
  const MAX_PX = 8e6;
  const PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
    "#7f7f7f", "#bcbd22", "#17becf"];
  const $ = (id) => document.getElementById(id);
  /** Acts whose value is a stated number in [0, 1] worth following over time, and its title. */
  const STATED = [["believe", "Beliefs over time (each agent's probability for the truth)"],
    ["express", "Expressed opinions over time"]];
  /** Acts that reveal a hidden role in the social deduction games: only the hidden team kills
   * (Among Us's imposters, Mafia's mafia), and an agent's own elimination act takes it out. */
  const KILL = "kill", OUT = ["ejected", "lynched", "killed"];

  /** An SVG element with attributes, appended to `parent` when given. */
  function svg(tag, attrs, parent) {
    const e = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
    if (parent) parent.appendChild(e);
    return e;
  }
  /** An HTML element with a class and text. */
  function html(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }
  const fmt = (v) => (v === null || v === undefined) ? "—"
    : (Math.abs(v) >= 1e5 || (v !== 0 && Math.abs(v) < 1e-3)) ? v.toExponential(2)
    : String(Math.round(v * 1000) / 1000);
  const signed = (v) => (v > 0 ? "+" : "") + fmt(v);

  // Agents and their groups (summary.json's labels), coloured by group. `agents` holds the labels
  // by id as the run ended, and those of the episode shown once one is.
  let agents = DATA.agents;
  const groups = [...new Set(DATA.layouts.flat())];
  const groupColor = (a) => PALETTE[groups.indexOf(agents[a]) % PALETTE.length];
  const dimColor = (d) => PALETTE[d % PALETTE.length];
  // An agent by id, with its hidden role in the episode shown where the game deals roles.
  const role = (a) => ep?.e.roles[a];
  const name = (a) => (a < 0 ? "all" : "agent " + a + (role(a) ? " [" + role(a) + "]" : ""));

  // ---- header and tabs ----------------------------------------------------------------------
  const s = DATA.summary;
  $("title").textContent = s.scenario || "Socium run";
  const facts = [s.game && "game " + s.game, s.seed !== undefined && "seed " + s.seed,
    s.episodes !== undefined && s.episodes + " episodes", s.runs !== undefined && s.runs + " runs",
    s.generations !== undefined && s.generations + " generations", agents.length > 0 && agents.length + " agents"];
  $("subtitle").textContent = facts.filter(Boolean).join(" · ");
  const tabs = document.querySelectorAll(".tab");
  function showTab(name) {
    for (const t of tabs) t.classList.toggle("active", t.dataset.tab === name);
    $("tab-episode").hidden = name !== "episode";
    $("tab-metrics").hidden = name !== "metrics";
    if (name === "episode") renderList();
  }
  for (const t of tabs) t.addEventListener("click", () => showTab(t.dataset.tab));
  if (DATA.kind === "evolve") tabs[1].textContent = "Generations";

  // ---- the episode tab ----------------------------------------------------------------------
  const list = $("list"), spacer = $("spacer"), scrubber = $("scrubber");
  let ep = null; // the prepared episode
  let cur = -1; // the current utterance's row
  let timer = null;
  let nodes = [], ties = new Map(), lit = [];

  /** Indexes an episode's lines for drawing: rows, settles by utterance and step, beliefs. */
  function prepare(e) {
    const rows = e.made; // [step, id, speaker, audience, kind, target, value, text, rewards]
    const byId = new Map(rows.map((r, i) => [r[1], i]));
    const settlesOf = new Map(), settlesAt = new Map();
    for (const st of e.settles) {
      if (!settlesOf.has(st[1])) settlesOf.set(st[1], []);
      settlesOf.get(st[1]).push(st);
      if (!settlesAt.has(st[0])) settlesAt.set(st[0], []);
      settlesAt.get(st[0]).push(st);
    }
    let maxStep = 0;
    for (const r of rows) maxStep = Math.max(maxStep, r[0]);
    for (const st of e.settles) maxStep = Math.max(maxStep, st[0]);
    // The largest |value| per dimension scales its bars.
    const scale = DATA.dimensions.map(() => 0);
    const grow = (rs) => { for (const [, d, v] of rs) scale[d] = Math.max(scale[d], Math.abs(v)); };
    rows.forEach((r) => grow(r[8]));
    e.settles.forEach((st) => grow(st[2]));
    // Stated beliefs (Among Us, Mafia: `believe` acts carry the probability an agent gives the
    // truth) or, in opinion dynamics, expressed opinions: each agent's value over the steps.
    const stated = STATED.find(([kind]) => DATA.kinds.includes(kind));
    const kind = stated ? DATA.kinds.indexOf(stated[0]) : -1;
    const beliefs = new Map();
    if (kind >= 0) {
      for (const r of rows) {
        if (r[4] !== kind) continue;
        if (!beliefs.has(r[2])) beliefs.set(r[2], []);
        beliefs.get(r[2]).push([r[0], r[6]]);
      }
    }
    const team = new Set(), outAt = new Map();
    const kill = DATA.kinds.indexOf(KILL), out = OUT.map((k) => DATA.kinds.indexOf(k));
    for (const r of rows) {
      if (r[4] === kill) team.add(r[2]);
      if (out.includes(r[4]) && !outAt.has(r[2])) outAt.set(r[2], r[0]);
    }
    return { e, rows, byId, settlesOf, settlesAt, maxStep, scale, beliefs, stated, team, outAt };
  }

  /** The first row at `step` or later (rows are in step order), or the last row. */
  function rowAtStep(step) {
    const rows = ep.rows;
    let lo = 0, hi = rows.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (rows[mid][0] < step) lo = mid + 1; else hi = mid;
    }
    return Math.min(lo, rows.length - 1);
  }

  // Agents on a circle, in id order (groups are runs of ids, so each sits on one arc).
  const CX = 200, CY = 200, RADIUS = agents.length > 1 ? 170 : 0;
  const at = (a) => [CX + RADIUS * Math.cos(2 * Math.PI * a / agents.length - Math.PI / 2),
    CY + RADIUS * Math.sin(2 * Math.PI * a / agents.length - Math.PI / 2)];
  const nodeRadius = () => Math.max(2, Math.min(12, 420 / Math.max(agents.length, 1)));
  const line = (a, b) => { const [x1, y1] = at(a), [x2, y2] = at(b); return { x1, y1, x2, y2 }; };
  let perStep = false, stepLayer = null;

  /** Who acts on whom at `step`, when the graph shows ties step by step. */
  function stepTies(step) {
    if (!perStep) return;
    const lines = [];
    for (let i = rowAtStep(step); i < ep.rows.length && ep.rows[i][0] === step; i++) {
      const row = ep.rows[i], other = row[5] >= 0 ? row[5] : row[3];
      if (other < 0 || other === row[2] || other >= agents.length) continue;
      lines.push(svg("line", { class: "tie" + (i === cur ? " active" : ""), ...line(row[2], other) }));
    }
    stepLayer.replaceChildren(...lines);
  }

  function drawGraph() {
    const g = $("graph");
    g.replaceChildren();
    const n = agents.length, r = nodeRadius();
    // Ties: the run's graph when it was written, else who acted on whom in this episode — or,
    // when that is nearly everyone with everyone (a well-mixed donor game), who acts on whom at
    // the current step, redrawn as the step moves (`stepTies`).
    let pairs = [];
    if (DATA.edges) {
      pairs = DATA.edges.map(([a, b, w]) => [a, b, w]);
    } else {
      const count = new Map();
      for (const row of ep.rows) {
        const other = row[5] >= 0 ? row[5] : row[3];
        if (other < 0 || other === row[2]) continue;
        const key = Math.min(row[2], other) + "-" + Math.max(row[2], other);
        count.set(key, (count.get(key) || 0) + 1);
      }
      pairs = [...count].map(([k, c]) => k.split("-").map(Number).concat([c]));
      perStep = pairs.length > 4 * n;
      if (perStep) pairs = [];
    }
    pairs.sort((x, y) => y[2] - x[2]);
    pairs = pairs.slice(0, 4000); // the strongest; more only blur the picture
    const maxW = pairs.reduce((m, p) => Math.max(m, Math.abs(p[2])), 1e-9);
    const tieLayer = svg("g", {}, g);
    ties = new Map();
    for (const [a, b, w] of pairs) {
      if (a >= n || b >= n) continue;
      ties.set(Math.min(a, b) + "-" + Math.max(a, b), svg("line", { class: "tie", ...line(a, b),
        "stroke-width": (0.4 + 1.6 * Math.abs(w) / maxW).toFixed(2),
        "stroke-opacity": (0.15 + 0.6 * Math.abs(w) / maxW).toFixed(2) }, tieLayer));
    }
    stepLayer = svg("g", {}, g);
    nodes = [];
    for (let a = 0; a < n; a++) {
      const [x, y] = at(a);
      const c = svg("circle", { class: "node" + (ep.team.has(a) ? " team" : ""), cx: x, cy: y, r,
        fill: groupColor(a), "data-agent": a }, g);
      svg("title", {}, c).textContent = name(a) + " (" + agents[a] + ")" +
        (ep.team.has(a) ? ", made a kill: the hidden team" : "") +
        (ep.outAt.has(a) ? ", out from step " + ep.outAt.get(a) : "");
      c.addEventListener("click", () => {
        const next = ep.rows.findIndex((row, i) => i > cur && row[2] === a);
        if (next >= 0) select(next, true);
      });
      nodes.push(c);
      if (n <= 40) {
        const [lx, ly] = [CX + (RADIUS + r + 9) * Math.cos(2 * Math.PI * a / n - Math.PI / 2),
          CY + (RADIUS + r + 9) * Math.sin(2 * Math.PI * a / n - Math.PI / 2)];
        svg("text", { x: lx, y: ly + 3, "text-anchor": "middle" }, g).textContent = a;
      }
    }
    const legend = $("legend");
    legend.replaceChildren();
    for (const label of groups) {
      const span = html("span", "", label);
      span.style.setProperty("--c", PALETTE[groups.indexOf(label) % PALETTE.length]);
      legend.appendChild(span);
    }
    if (ep.team.size) legend.appendChild(html("span", "team", "made a kill (the hidden team)"));
    if (ep.outAt.size) legend.appendChild(html("span", "out", "faded: out of the game"));
  }

  /** Small bars for reward entries `[agent, dim, value]`, scaled per dimension. */
  function bars(parent, rs, settled) {
    for (const [a, d, v] of rs) {
      const b = html("span", "bar" + (v < 0 ? " neg" : "") + (settled ? " settled" : ""));
      const i = html("i");
      i.style.width = (2 + 38 * Math.abs(v) / (ep.scale[d] || 1)).toFixed(1) + "px";
      i.style.background = dimColor(d);
      b.append(i, (settled ? "settled " : "") + DATA.dimensions[d] + " " + signed(v) + " → " + a);
      b.title = DATA.dimensions[d] + " " + v + " to " + name(a) + (settled ? " (settled later)" : "");
      parent.appendChild(b);
    }
  }

  function actText(row) {
    const target = row[5] >= 0 ? " " + row[5] : "";
    return DATA.kinds[row[4]] + target + (row[6] !== 1 && row[6] !== 0 ? " " + fmt(row[6]) : "");
  }
  const sayText = (row) => row[7] ?? name(row[2]) + " " + DATA.kinds[row[4]] + (row[5] >= 0 ? " " + name(row[5]) : "");

  function rowElement(i) {
    const row = ep.rows[i];
    const div = html("div", "row" + (i === cur ? " current" : ""));
    div.dataset.index = i;
    div.style.top = rowTop(i) + "px";
    const line1 = html("div", "line1");
    line1.append(html("span", "meta", "s" + row[0] + " · " + name(row[2]) + " → " + name(row[3])),
      html("span", "act", actText(row)), sayText(row));
    const line2 = html("div", "bars");
    bars(line2, row[8], false);
    for (const st of ep.settlesOf.get(row[1]) || []) bars(line2, st[2], true);
    div.append(line1, line2);
    return div;
  }

  /** The (fractional) row at the top of the view when scrolled to `top`. */
  function rowAt(top) {
    const total = ep.rows.length * ROW_H;
    if (total <= MAX_PX) return top / ROW_H;
    const view = list.clientHeight || 600;
    return top / Math.max(1, MAX_PX - view) * Math.max(0, ep.rows.length - view / ROW_H);
  }
  /** Where row `i` sits in the spacer, given the current scroll. */
  const rowTop = (i) => ep.rows.length * ROW_H <= MAX_PX ? i * ROW_H
    : list.scrollTop + (i - rowAt(list.scrollTop)) * ROW_H;
  /** The scroll that puts the (fractional) row `at` at the top of the view. */
  function scrollFor(at) {
    at = Math.max(0, at);
    if (ep.rows.length * ROW_H <= MAX_PX) return at * ROW_H;
    const view = list.clientHeight || 600;
    return at / Math.max(1, ep.rows.length - view / ROW_H) * Math.max(1, MAX_PX - view);
  }

  function renderList() {
    if (!ep || $("tab-episode").hidden) return;
    const height = list.clientHeight || 600, at = rowAt(list.scrollTop);
    const first = Math.max(0, Math.floor(at) - OVERSCAN);
    const last = Math.min(ep.rows.length, Math.ceil(at + height / ROW_H) + OVERSCAN);
    const rows = [];
    for (let i = first; i < last; i++) rows.push(rowElement(i));
    spacer.replaceChildren(...rows);
  }
  let pending = false;
  list.addEventListener("scroll", () => {
    if (pending) return;
    pending = true;
    requestAnimationFrame(() => { pending = false; renderList(); });
  });
  spacer.addEventListener("click", (ev) => {
    const div = ev.target.closest(".row");
    if (div) select(Number(div.dataset.index), false);
  });
  list.addEventListener("keydown", (ev) => {
    if (ev.key === "ArrowDown" || ev.key === "ArrowUp") {
      ev.preventDefault();
      select(Math.max(0, Math.min(ep.rows.length - 1, cur + (ev.key === "ArrowDown" ? 1 : -1))), true);
    }
  });

  /** Makes row `i` the current utterance at `step` (its own by default); `scroll` brings it into
   * view. */
  function select(i, scroll, step = ep.rows[i][0]) {
    if (!ep.rows.length) return;
    cur = i;
    scrubber.value = step;
    if (scroll) {
      const y = rowTop(i);
      if (y < list.scrollTop || y + ROW_H > list.scrollTop + list.clientHeight) {
        list.scrollTop = scrollFor(i - list.clientHeight / ROW_H / 2);
      }
    }
    update();
  }

  // The scrubber stays on a step with no utterance (only settle or fault lines, or nothing), so
  // that its lines show and the totals count them, and so that Play reaches the last step.
  function setStep(step) {
    scrubber.value = step;
    if (ep.rows.length) {
      cur = rowAtStep(step);
      select(cur, true, step);
    } else {
      update();
    }
  }

  /** Redraws what depends on the current step and utterance. */
  function update() {
    const step = Number(scrubber.value);
    const out = $("step");
    out.textContent = "step " + step + " of " + ep.maxStep +
      (ep.rows.length ? " · utterance " + (cur + 1) + " of " + ep.rows.length : "");
    out.dataset.step = step;
    for (const e of lit) e.classList.remove("speaker", "audience", "active");
    lit = [];
    const row = ep.rows[cur];
    if (row && row[0] === step) {
      const light = (e, cls) => { if (e) { e.classList.add(cls); lit.push(e); } };
      const other = row[5] >= 0 ? row[5] : row[3];
      if (other >= 0 && other !== row[2]) {
        light(nodes[other], "audience");
        light(ties.get(Math.min(row[2], other) + "-" + Math.max(row[2], other)), "active");
      }
      light(nodes[row[2]], "speaker");
    }
    for (const [a, at] of ep.outAt) nodes[a]?.classList.toggle("out", at <= step);
    stepTies(step);
    renderList();
    detail(row && row[0] === step ? row : null, step);
    totals(step, row && row[0] === step ? row[2] : -1);
    beliefCursor(step);
  }

  function detail(row, step) {
    const d = $("detail");
    d.replaceChildren();
    if (row) {
      const head = html("div");
      head.append(html("b", "", name(row[2]) + " (" + agents[row[2]] + ")"),
        " → " + name(row[3]) + " · ", html("span", "act", actText(row)), " · utterance #" + row[1]);
      const bar = html("div", "bars");
      bars(bar, row[8], false);
      d.append(head, html("div", "", sayText(row)), bar);
      for (const st of ep.settlesOf.get(row[1]) || []) {
        const p = html("div");
        const link = html("span", "settle", "settled at step " + st[0]);
        link.addEventListener("click", () => setStep(st[0]));
        const b = html("span", "bars");
        bars(b, st[2], true);
        p.append(link, ": ", b);
        d.appendChild(p);
      }
    } else {
      d.append("no utterance at step " + step);
    }
    for (const st of ep.settlesAt.get(step) || []) {
      const i = ep.byId.get(st[1]);
      const p = html("div");
      const link = html("span", "settle", "settles utterance #" + st[1] + (i === undefined ? "" : " (" + sayText(ep.rows[i]) + ")"));
      if (i !== undefined) link.addEventListener("click", () => select(i, true));
      p.append(link);
      d.appendChild(p);
    }
    for (const [fs, agent, fault] of ep.e.faults) {
      if (fs === step) d.appendChild(html("div", "", "fault: " + name(agent) + " takes the default act: " + fault));
    }
  }

  /** Each agent's raw reward per dimension, summed over the lines up to `step`. */
  function totals(step, speaker) {
    const dims = DATA.dimensions.length, n = agents.length;
    const sum = new Float64Array(n * dims);
    const add = (rs) => { for (const [a, d, v] of rs) if (a < n) sum[a * dims + d] += v; };
    for (const r of ep.rows) { if (r[0] > step) break; add(r[8]); }
    for (const st of ep.e.settles) if (st[0] <= step) add(st[2]);
    const table = html("table");
    const head = html("tr");
    head.append(html("th", "", "agent"), ...DATA.dimensions.map((d) => html("th", "", d)));
    table.appendChild(head);
    for (let a = 0; a < n; a++) {
      const tr = html("tr", a === speaker ? "speaker" : "");
      tr.appendChild(html("td", "", a + " " + agents[a]));
      for (let d = 0; d < dims; d++) tr.appendChild(html("td", "", fmt(sum[a * dims + d])));
      table.appendChild(tr);
    }
    $("totals").replaceChildren(table);
  }

  let cursorLine = null;
  function drawBeliefs() {
    const b = $("beliefs");
    b.replaceChildren();
    cursorLine = null;
    const has = ep.beliefs.size > 0;
    b.toggleAttribute("hidden", !has); // an SVG element has no `hidden` property
    $("beliefs-title").hidden = !has;
    if (has) $("beliefs-title").textContent = ep.stated[1];
    if (!has) return;
    const [w, h, l, r, t, bt] = [400, 180, 30, 8, 8, 20];
    const x = (st) => l + (w - l - r) * st / Math.max(ep.maxStep, 1);
    const y = (v) => t + (h - t - bt) * (1 - v);
    for (const v of [0, 0.5, 1]) {
      svg("line", { class: "grid", x1: l, x2: w - r, y1: y(v), y2: y(v) }, b);
      svg("text", { x: l - 4, y: y(v) + 3, "text-anchor": "end" }, b).textContent = v;
    }
    svg("text", { x: w - r, y: h - 4, "text-anchor": "end" }, b).textContent = "step " + ep.maxStep;
    for (const [a, points] of ep.beliefs) {
      const p = svg("polyline", { class: "series", stroke: PALETTE[a % PALETTE.length],
        points: points.map(([st, v]) => x(st).toFixed(1) + "," + y(v).toFixed(1)).join(" ") }, b);
      svg("title", {}, p).textContent = name(a) + ": " + ep.stated[0] + " acts' values";
      if (points.length <= 40) { // a line of one point draws nothing: dots show each value
        for (const [st, v] of points) {
          svg("circle", { cx: x(st), cy: y(v), r: 2.5, fill: PALETTE[a % PALETTE.length] }, b);
        }
      }
    }
    cursorLine = svg("line", { class: "cursor", y1: t, y2: h - bt, x1: l, x2: l }, b);
    cursorLine.dataset.x = JSON.stringify([l, w - r]);
  }
  function beliefCursor(step) {
    if (!cursorLine) return;
    const [l, rr] = JSON.parse(cursorLine.dataset.x);
    const xx = l + (rr - l) * step / Math.max(ep.maxStep, 1);
    cursorLine.setAttribute("x1", xx);
    cursorLine.setAttribute("x2", xx);
  }

  function showEpisode(k) {
    agents = DATA.layouts[DATA.episodes[k].layout] ?? DATA.agents;
    ep = prepare(DATA.episodes[k]);
    list.dataset.rows = ep.rows.length;
    list.dataset.episode = ep.e.episode;
    spacer.style.height = Math.min(ep.rows.length * ROW_H, MAX_PX) + "px";
    list.scrollTop = 0;
    scrubber.max = ep.maxStep;
    const notes = [];
    if (DATA.left_out) notes.push("Left out of this page: " + DATA.left_out + ".");
    if (ep.e.cut) notes.push("This episode is cut short by --max-lines.");
    for (const [step, set] of ep.e.changes) {
      const from = step < 0 ? "this episode" : "step " + step;
      notes.push("From " + from + " on, the scenario changes: " + set + ".");
    }
    $("notice").hidden = !notes.length;
    $("notice").textContent = notes.join(" ");
    $("list-head").textContent = ep.rows.length + " utterances, " + ep.e.settles.length +
      " settle lines, " + ep.e.faults.length + " faults";
    drawGraph();
    drawBeliefs();
    cur = ep.rows.length ? 0 : -1;
    setStep(ep.rows.length ? ep.rows[0][0] : 0);
  }

  const picker = $("episode");
  DATA.episodes.forEach((e, k) => {
    const o = html("option", "", "episode " + e.episode + " (" + e.made.length + " utterances)");
    o.value = k;
    picker.appendChild(o);
  });
  picker.addEventListener("change", () => showEpisode(Number(picker.value)));
  scrubber.addEventListener("input", () => setStep(Number(scrubber.value)));
  $("play").addEventListener("click", () => {
    if (timer) { stop(); return; }
    if (Number(scrubber.value) >= ep.maxStep) setStep(0);
    $("play").textContent = "Pause";
    timer = setInterval(() => {
      const next = Number(scrubber.value) + 1;
      if (next > ep.maxStep) stop(); else setStep(next);
    }, 400);
  });
  function stop() {
    clearInterval(timer);
    timer = null;
    $("play").textContent = "Play";
  }

  // ---- the metrics tab: one small line chart per column ----------------------------------------
  /** A chart of `series` ([{label, color, points: [[x, y|null]]}]) under `title`. */
  function chart(title, series, xLabel) {
    const box = html("div", "chart");
    box.appendChild(html("h4", "", title));
    const [w, h, l, r, t, b] = [360, 190, 46, 8, 8, 28];
    const g = svg("svg", { viewBox: `0 0 ${w} ${h}` }, box);
    const all = series.flatMap((s) => s.points).filter((p) => p[1] !== null && Number.isFinite(p[1]));
    if (!all.length) { box.appendChild(html("p", "", "no values")); return box; }
    let [x0, x1] = [Math.min(...all.map((p) => p[0])), Math.max(...all.map((p) => p[0]))];
    let [y0, y1] = [Math.min(...all.map((p) => p[1])), Math.max(...all.map((p) => p[1]))];
    if (y0 === y1) { y0 -= 0.5; y1 += 0.5; }
    if (x0 === x1) x1 = x0 + 1;
    const x = (v) => l + (w - l - r) * (v - x0) / (x1 - x0);
    const y = (v) => t + (h - t - b) * (1 - (v - y0) / (y1 - y0));
    const ticks = [0, 1, 2, 3, 4].map((i) => y0 + (y1 - y0) * i / 4);
    // Enough digits that no two ticks read alike (a constant 100 spans 99.5 to 100.5: five).
    const read = (digits) => ticks.map((v) => Number(v.toPrecision(digits)));
    let digits = 3;
    while (digits < 15 && new Set(read(digits)).size < ticks.length) digits++;
    for (const [i, v] of ticks.entries()) {
      svg("line", { class: "grid", x1: l, x2: w - r, y1: y(v), y2: y(v) }, g);
      svg("text", { class: "tick", x: l - 4, y: y(v) + 3, "text-anchor": "end" }, g).textContent = read(digits)[i];
    }
    svg("line", { class: "axis", x1: l, x2: w - r, y1: h - b, y2: h - b }, g);
    svg("text", { x: l, y: h - b + 12, "text-anchor": "middle" }, g).textContent = fmt(x0);
    svg("text", { x: w - r, y: h - b + 12, "text-anchor": "end" }, g).textContent = fmt(x1);
    svg("text", { x: (l + w) / 2, y: h - 4, "text-anchor": "middle" }, g).textContent = xLabel;
    for (const s of series) {
      let d = "", gap = true;
      for (const [px, py] of s.points) {
        if (py === null || !Number.isFinite(py)) { gap = true; continue; }
        d += (gap ? "M" : "L") + x(px).toFixed(1) + " " + y(py).toFixed(1);
        gap = false;
      }
      const p = svg("path", { class: "series", d, stroke: s.color }, g);
      svg("title", {}, p).textContent = s.label;
    }
    if (series.length > 1 && series.length <= 10) {
      const legend = html("div");
      for (const s of series) {
        const span = html("span", "", "■ " + s.label + "  ");
        span.style.color = s.color;
        legend.appendChild(span);
      }
      box.appendChild(legend);
    }
    return box;
  }

  /** At most `max` points of `points`, evenly strided (the last kept), so that 20,000
   * generations draw as fast as 200. */
  function thin(points, max) {
    if (points.length <= max) return points;
    const stride = Math.ceil(points.length / max), out = [];
    for (let i = 0; i < points.length; i += stride) out.push(points[i]);
    if (out[out.length - 1] !== points[points.length - 1]) out.push(points[points.length - 1]);
    return out;
  }

  function drawCharts() {
    const t = DATA.table, charts = $("charts");
    const col = (name) => t.columns.indexOf(name);
    if (DATA.kind === "evolve") {
      const run = col("run"), gen = col("generation");
      const runs = [...new Set(t.rows.map((r) => r[run]))];
      const byRun = runs.map((k) => t.rows.filter((r) => r[run] === k));
      for (let c = 0; c < t.columns.length; c++) {
        if (c === run || c === gen) continue;
        let series = byRun.map((rows, i) => ({ label: "run " + runs[i], color: PALETTE[i % PALETTE.length],
          points: rows.map((r) => [r[gen], r[c]]) }));
        // As in the PNGs: when every run stops changing early, show up to a quarter past that.
        const length = Math.max(...series.map((s) => s.points.length));
        const settled = Math.max(0, ...series.map((s) => {
          for (let i = s.points.length - 1; i > 0; i--) if (s.points[i][1] !== s.points[i - 1][1]) return i;
          return 0;
        }));
        let title = t.columns[c] + " by run";
        if (length >= 20 && settled < 0.4 * length) {
          const shown = Math.min(length, Math.max(10, Math.floor(settled * 1.25)));
          series = series.map((s) => ({ ...s, points: s.points.slice(0, shown) }));
          title += " (to generation " + (shown - 1) + " of " + (length - 1) + "; unchanged from " + settled + ")";
        }
        series = series.map((s) => ({ ...s, points: thin(s.points, 1500) }));
        charts.appendChild(chart(title, series, "generation"));
      }
    } else {
      const e = col("episode");
      for (let c = 0; c < t.columns.length; c++) {
        if (c === e) continue;
        const points = thin(t.rows.map((r) => [r[e], r[c]]), 2000);
        charts.appendChild(chart(t.columns[c], [{ label: t.columns[c], color: PALETTE[0], points }], "episode"));
      }
    }
  }

  drawCharts();
  if (DATA.episodes.length) {
    showTab("episode");
    showEpisode(0);
  } else {
    tabs[0].disabled = true;
    $("notice").hidden = false;
    $("notice").textContent = DATA.kind === "evolve" ? "socium evolve keeps no transcript: its generations are below."
      : DATA.transcript ? "The transcript holds no episode."
      : "This run kept no transcript (set `[output] transcript = true` in the scenario to see its episodes).";
    showTab("metrics");
  }
  document.body.dataset.ready = "1";
  performance.mark("socium-ready");
})();
