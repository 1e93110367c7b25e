// The ModelServer dashboard: one fetch of /v1/status to check the key, then one stream, /v1/events, for everything else.
// EventSource cannot send headers, so the stream is read with fetch() and a ReadableStream reader; the key travels only in
// the Authorization header, never in a URL, and is kept in sessionStorage (this tab only).
"use strict";

(() => {
  const KEY = "modelserver-api-key";
  const CHART_WINDOW_MS = 5 * 60 * 1000;
  const MAX_EVENTS = 500;
  const RETRY_MS = 3000;
  const PALETTE = ["#2563eb", "#16a34a", "#d97706", "#9333ea", "#0891b2", "#dc2626", "#4f46e5", "#65a30d"];
  const KIND_WORDS = { Loaded: "LOADED", Evicted: "EVICTED", Unloaded: "UNLOADED", LoadFailed: "FAILED", FallbackUsed: "FALLBACK" };

  const $ = (id) => document.getElementById(id);
  const samples = [];
  let stream = null;
  let eventCount = 0;

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (value !== null && value !== undefined) node.setAttribute(name, value);
    }
    for (const child of children) node.append(child instanceof Node ? child : document.createTextNode(String(child ?? "")));
    return node;
  }

  function svg(tag, attrs) {
    const node = document.createElementNS("http://www.w3.org/2000/svg", tag);
    for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, value);
    return node;
  }

  function headers() {
    const key = sessionStorage.getItem(KEY);
    return key ? { Authorization: "Bearer " + key } : {};
  }

  function setConnection(state, text) {
    const badge = $("connection");
    badge.dataset.state = state;
    badge.textContent = text;
  }

  async function errorMessage(response) {
    try {
      const body = await response.json();
      if (body && body.error && body.error.message) return body.error.message;
    } catch { /* not JSON */ }
    return "HTTP " + response.status;
  }

  function askForKey(message) {
    if (stream) stream.abort();
    stream = null;
    $("dashboard").hidden = true;
    $("key-form").hidden = false;
    const error = $("key-error");
    error.hidden = !message;
    error.textContent = message || "";
    setConnection(message ? "error" : "connecting", message ? "key rejected" : "key needed");
    $("key-input").focus();
  }

  async function start() {
    let response;
    try {
      response = await fetch("/v1/status", { headers: headers(), cache: "no-store" });
    } catch (e) {
      setConnection("error", "server unreachable");
      setTimeout(start, RETRY_MS);
      return;
    }
    if (response.status === 401) {
      const message = await errorMessage(response);
      askForKey(sessionStorage.getItem(KEY) ? "The server rejected the key: " + message : "");
      return;
    }
    if (!response.ok) {
      setConnection("error", await errorMessage(response));
      setTimeout(start, RETRY_MS);
      return;
    }
    $("key-form").hidden = true;
    $("dashboard").hidden = false;
    renderStatus(await response.json());
    connect();
  }

  // Reads /v1/events until it ends, then reconnects; the server replays its kept events on every connect.
  async function connect() {
    const controller = new AbortController();
    stream = controller;
    let response;
    try {
      response = await fetch("/v1/events", { headers: { ...headers(), Accept: "text/event-stream" }, signal: controller.signal, cache: "no-store" });
    } catch (e) {
      if (controller.signal.aborted) return;
      return retry(controller, "stream failed");
    }
    if (response.status === 401) return askForKey("The server rejected the key: " + await errorMessage(response));
    if (!response.ok || !response.body) return retry(controller, await errorMessage(response));

    $("event-log").replaceChildren();
    eventCount = 0;
    setConnection("live", "live");
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value.replace(/\r\n?/g, "\n");
        let end;
        while ((end = buffer.indexOf("\n\n")) >= 0) {
          dispatch(buffer.slice(0, end));
          buffer = buffer.slice(end + 2);
        }
      }
    } catch (e) {
      if (controller.signal.aborted) return;
    }
    retry(controller, "stream ended");
  }

  function retry(controller, why) {
    if (stream !== controller) return;
    setConnection("error", why + ", reconnecting…");
    setTimeout(() => { if (stream === controller) start(); }, RETRY_MS);
  }

  function dispatch(frame) {
    let type = "message";
    const data = [];
    for (const line of frame.split("\n")) {
      if (line.startsWith(":")) continue; // heartbeat or comment
      const colon = line.indexOf(":");
      const field = colon < 0 ? line : line.slice(0, colon);
      const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
      if (field === "event") type = value;
      else if (field === "data") data.push(value);
    }
    if (data.length === 0) return;
    let body;
    try { body = JSON.parse(data.join("\n")); } catch { return; }
    if (type === "status") renderStatus(body);
    else if (type === "model") {
      addEvent(body);
      if (body.time && body.used_mb !== undefined) addSample(Date.parse(body.time), body.used_mb, body.limit_mb || 0);
      refreshSoon();
    }
  }

  // A model event changes the table at once rather than at the next snapshot.
  let refreshing = false;
  function refreshSoon() {
    if (refreshing) return;
    refreshing = true;
    setTimeout(async () => {
      try {
        const response = await fetch("/v1/status", { headers: headers(), cache: "no-store" });
        if (response.ok) renderStatus(await response.json());
      } catch { /* the stream reports connection trouble */ }
      refreshing = false;
    }, 50);
  }

  function mb(value) {
    return (Number(value) || 0).toFixed(1);
  }

  function colorOf(name, names) {
    return PALETTE[Math.max(0, names.indexOf(name)) % PALETTE.length];
  }

  function renderStatus(status) {
    const memory = status.memory || {};
    const models = status.models || [];
    const names = models.map((m) => m.name);
    const now = status.time ? Date.parse(status.time) : Date.now();

    // Budget bar: one segment per model that holds memory, as wide as its charged share.
    const limit = memory.limit_mb || 0;
    $("memory-text").textContent = `${mb(memory.used_mb)} of ${mb(limit)} MB charged (${Math.round((memory.used_fraction || 0) * 100)} %), ${mb(memory.available_mb)} MB free`;
    const bar = $("memory-bar");
    const legend = $("memory-legend");
    bar.replaceChildren();
    legend.replaceChildren();
    for (const m of models.filter((x) => x.memory_mb > 0)) {
      const seg = el("div", { class: "seg", title: `${m.name}: ${mb(m.memory_mb)} MB charged` }, m.name);
      seg.style.width = (limit > 0 ? Math.min(100, (m.memory_mb / limit) * 100) : 0) + "%";
      seg.style.background = colorOf(m.name, names);
      bar.append(seg);
      const swatch = el("span", { class: "swatch" });
      swatch.style.background = colorOf(m.name, names);
      const cache = m.cache_mb > 0 ? `, cache ${mb(m.cache_mb)}` : "";
      const scale = Math.max(m.estimated_mb, m.actual_mb, 0.1);
      const estimated = el("span", { class: "est", title: `estimated ${mb(m.estimated_mb)} MB` });
      estimated.style.width = (m.estimated_mb / scale) * 100 + "%";
      const actual = el("span", { class: "act", title: `actual ${mb(m.actual_mb)} MB` });
      actual.style.width = (m.actual_mb / scale) * 100 + "%";
      actual.style.background = colorOf(m.name, names);
      legend.append(el("li", { "data-model": m.name },
        el("span", { class: "label" }, swatch, m.name),
        el("span", { class: "pair" }, estimated, actual),
        el("span", { class: "text" }, `${mb(m.memory_mb)} MB charged: estimated ${mb(m.estimated_mb)}, actual ${mb(m.actual_mb)}${cache}`)));
    }
    if (!legend.firstChild) legend.append(el("li", { class: "muted" }, "no model holds memory"));

    // Models table.
    const rows = models.map((m) => {
      const left = m.expires_at ? Math.round((Date.parse(m.expires_at) - now) / 1000) : null;
      const idle = left === null ? "-" : left > 0 ? left + " s" : "due"; // the idle sweep unloads it shortly
      const lastLoad = m.last_load_ms === null || m.last_load_ms === undefined ? "-" : (m.last_load_ms / 1000).toFixed(2) + " s";
      const cells = [
        el("td", { class: "name" }, m.name),
        el("td", {}, m.type),
        el("td", { class: "state-cell" }, el("span", { class: "state", "data-state": m.state }, m.state)),
        el("td", { class: "n" }, m.priority),
        el("td", { class: "n" }, mb(m.memory_mb)),
        el("td", { class: "n" }, mb(m.estimated_mb)),
        el("td", { class: "n" }, mb(m.actual_mb)),
        el("td", { class: "n" }, m.active_leases),
        el("td", { class: "n" }, m.access_count),
        el("td", { class: "n" }, m.load_count),
        el("td", { class: "n" }, m.eviction_count),
        el("td", { class: "n" }, m.failure_count),
        el("td", { class: "n" }, m.fallback_count),
        el("td", { class: "n" }, lastLoad),
        el("td", { class: "n" }, idle),
      ];
      return el("tr", { "data-model": m.name, "data-state": m.state }, ...cells);
    });
    $("models").tBodies[0].replaceChildren(...rows);

    // Agents and the models they try, in order; the first that is loaded is highlighted.
    const states = Object.fromEntries(models.map((m) => [m.name, m.state]));
    const agents = status.agents || [];
    $("agents").tBodies[0].replaceChildren(...agents.map((a) => {
      const chain = el("td", { class: "chain" });
      a.models.forEach((name, i) => {
        if (i > 0) chain.append(el("span", { class: "arrow" }, "→"));
        chain.append(el("span", { class: "state", "data-state": states[name] || "Unloaded", title: states[name] || "" }, name));
      });
      return el("tr", { "data-agent": a.name }, el("td", { class: "name" }, a.name), chain);
    }));
    $("no-agents").hidden = agents.length > 0;

    addSample(now, memory.used_mb || 0, limit);
  }

  // Samples come from status snapshots and from events (each carries the budget right after it, the kept history included).
  function addSample(time, used, limit) {
    let i = samples.length;
    while (i > 0 && samples[i - 1].time > time) i--;
    samples.splice(i, 0, { time, used, limit });
    const newest = samples[samples.length - 1].time;
    while (samples.length > 1 && samples[0].time < newest - CHART_WINDOW_MS) samples.shift();
    drawChart();
  }

  function drawChart() {
    const chart = $("chart");
    const width = 600, height = 160, top = 14;
    chart.replaceChildren();
    if (samples.length === 0) return;
    const last = samples[samples.length - 1].time;
    const first = samples[0].time;
    const span = Math.max(10000, last - first);
    const max = Math.max(1, ...samples.map((s) => Math.max(s.used, s.limit)));
    const x = (t) => ((t - (last - span)) / span) * width;
    const y = (v) => height - (v / max) * (height - top);
    // Memory changes in steps (a load, an eviction), so the line holds each value until the next sample.
    const points = [];
    samples.forEach((s, i) => {
      if (i > 0) points.push(`${x(s.time).toFixed(1)},${y(samples[i - 1].used).toFixed(1)}`);
      points.push(`${x(s.time).toFixed(1)},${y(s.used).toFixed(1)}`);
    });
    chart.append(svg("polygon", { class: "area", points: `${x(first).toFixed(1)},${height} ${points.join(" ")} ${x(last).toFixed(1)},${height}` }));
    chart.append(svg("polyline", { class: "used", points: points.join(" ") }));
    const limit = samples[samples.length - 1].limit;
    if (limit > 0) {
      chart.append(svg("line", { class: "limit", x1: 0, x2: width, y1: y(limit), y2: y(limit) }));
      const label = svg("text", { x: 4, y: Math.max(10, y(limit) - 3) });
      label.textContent = `limit ${mb(limit)} MB`;
      chart.append(label);
    }
    const current = svg("text", { x: width - 4, y: Math.max(10, y(samples[samples.length - 1].used) - 4), "text-anchor": "end" });
    current.textContent = `${mb(samples[samples.length - 1].used)} MB`;
    chart.append(current);
    const seconds = Math.round(span / 1000);
    $("chart-start").textContent = seconds >= 60 ? `-${Math.floor(seconds / 60)} min ${seconds % 60} s` : `-${seconds} s`;
    $("chart-span").textContent = `used MB, last ${Math.round(CHART_WINDOW_MS / 60000)} minutes at most`;
  }

  function describe(e) {
    switch (e.kind) {
      case "Loaded": return `${mb(e.mb)} MB in memory`;
      case "Evicted":
      case "Unloaded": return `reason=${e.reason}, freed ${mb(e.mb)} MB`;
      case "LoadFailed": return e.error || "load failed";
      case "FallbackUsed": return `${e.served_by} served instead` + (e.error ? ` (${e.error})` : "");
      default: return e.error || "";
    }
  }

  function addEvent(e) {
    const time = e.time ? new Date(e.time).toLocaleTimeString([], { hour12: false }) : "";
    const subject = e.kind === "FallbackUsed" ? `${e.model} -> ${e.served_by}` : e.model;
    const item = el("li", { "data-kind": e.kind, "data-model": e.model, "data-reason": e.reason, title: describe(e) },
      el("span", { class: "time" }, time),
      el("span", { class: "kind", "data-kind": e.kind }, KIND_WORDS[e.kind] || e.kind),
      el("span", { class: "model" }, subject),
      el("span", { class: "detail" }, describe(e)));
    const log = $("event-log");
    log.prepend(item); // newest first
    while (log.childElementCount > MAX_EVENTS) log.lastElementChild.remove();
    eventCount++;
    $("event-count").textContent = `${eventCount} (newest first)`;
  }

  $("key-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const key = $("key-input").value.trim();
    if (key) sessionStorage.setItem(KEY, key); else sessionStorage.removeItem(KEY);
    $("key-input").value = "";
    start();
  });

  start();
})();
