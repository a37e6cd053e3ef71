/* jobgrid dashboard: live job page.
 *
 * Progress and counters follow the job over server-sent events
 * (GET /v1/jobs/{id}/events, event "status" = the status payload). If the browser has no
 * EventSource, or the stream is refused or stays silent, the page falls back to polling
 * GET /v1/jobs/{id}/status with If-None-Match, waiting what X-Poll-After says between polls.
 * Details that the status payload does not carry (ETA, failures, warnings) and the results
 * table are refreshed at most every few seconds, and once more when the job ends.
 * No build step: plain ES2017, served as is.
 */
(function () {
  "use strict";

  var root = document.getElementById("job");
  if (!root) { return; }
  var live = JSON.parse(root.dataset.live);
  var terminal = new Set(live.terminal);
  var DETAILS_EVERY_MS = 3000;
  var SILENCE_MS = 5000;
  var state = {
    version: -1,
    status: document.getElementById("status-badge").dataset.status,
    etag: null,
    polling: false,
    finished: false
  };
  var es = null;
  var pollTimer = null;
  var detailsTimer = null;
  var lastDetails = 0;
  var safetyTimer = null;
  var SAFETY_MS = 10000;

  function byId(id) { return document.getElementById(id); }
  function setText(id, value) {
    var el = byId(id);
    if (el) { el.textContent = String(value); }
  }
  function setLive(text, on) {
    setText("live-mode", text);
    byId("live-dot").className = "dot" + (on ? " on" : "");
  }

  /* A job that stopped moving has no estimate; the API says what it waits for
   * (waiting_for: "rescue" after a lost worker node, "workers" otherwise) and sends a status
   * event when that changes, so the page keeps no threshold of its own. */
  function etaText(job) {
    if (job.waiting_for) { return "waiting for " + job.waiting_for; }
    return duration(job.estimated_seconds_remaining);
  }

  function duration(seconds) {
    if (seconds === null || seconds === undefined) { return "—"; }
    var s = Math.max(0, Math.round(seconds));
    var h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
    if (h) { return h + " h " + String(m).padStart(2, "0") + " min"; }
    return m ? m + " min " + String(r).padStart(2, "0") + " s" : r + " s";
  }

  function setProgress(p) {
    byId("progress-fill").style.width = p + "%";
    byId("progress-bar").setAttribute("aria-valuenow", String(p));
    setText("progress-text", p);
  }

  function setBadge(status) {
    var wrap = byId("status-badge");
    wrap.dataset.status = status;
    root.dataset.status = status;
    var badge = wrap.querySelector(".badge");
    badge.className = "badge badge-" + status;
    badge.textContent = status.replace("_", " ");
  }

  function setPhase(phase, status) {
    var items = byId("phases").querySelectorAll("li");
    var reached = -1;
    items.forEach(function (li, i) { if (li.dataset.phase === phase) { reached = i; } });
    items.forEach(function (li, i) {
      var done = i < reached || (i === reached && status === "completed");
      li.className = done ? "done" : (i === reached ? "current" : "");
    });
  }

  function setError(error) {
    var el = byId("job-error");
    if (!error) { el.hidden = true; return; }
    el.textContent = "";
    var code = document.createElement("strong");
    code.textContent = error.code;
    el.appendChild(code);
    el.appendChild(document.createTextNode(": " + error.message));
    el.hidden = false;
  }

  /* The card says "of processed cells": filled over filled + empty, not over every cell of
     the grid (the API's grid_stats.fill_rate), which would count unprocessed rows as empty. */
  function processedFillRate(g) {
    var processed = (g.filled || 0) + (g.empty || 0);
    return processed ? Math.round((g.filled / processed) * 100) + " %" : "—";
  }

  function applyStatus(s) {
    if (typeof s.version === "number" && s.version < state.version) { return; }
    state.version = s.version;
    state.status = s.status;
    setProgress(s.progress);
    setBadge(s.status);
    setPhase(s.current_phase, s.status);
    setText("docs-done", s.completed_documents);
    setText("docs-total", s.document_count);
    setText("cells-filled", s.grid_stats.filled);
    setText("cells-total", s.grid_stats.total_cells);
    setText("cells-empty", s.grid_stats.empty);
    setText("fill-rate", processedFillRate(s.grid_stats));
    setText("attempts", s.attempt_count);
    setText("version", s.version);
    setError(s.error);
    if (s.waiting_for) { setText("eta", etaText(s)); }  /* the estimate follows with details */
    if (terminal.has(s.status)) { finish(); } else { scheduleDetails(); }
  }

  function finish() {
    if (state.finished) { return; }
    state.finished = true;
    if (es) { es.close(); }
    clearTimeout(pollTimer);
    clearInterval(safetyTimer);
    setLive("finished", false);
    refreshDetails();
  }

  /* ------------------------------------------------------------ details + grid */
  function scheduleDetails() {
    var wait = DETAILS_EVERY_MS - (Date.now() - lastDetails);
    if (wait <= 0) { refreshDetails(); return; }
    if (!detailsTimer) { detailsTimer = setTimeout(refreshDetails, wait); }
  }

  function renderWarnings(warnings) {
    var list = byId("warnings");
    list.textContent = "";
    warnings.forEach(function (w) {
      var li = document.createElement("li");
      var code = document.createElement("span");
      code.className = "code";
      code.textContent = w.code;
      li.appendChild(code);
      li.appendChild(document.createTextNode(" " + w.message));
      list.appendChild(li);
    });
    setText("warnings-count", warnings.length);
    byId("warnings-card").hidden = warnings.length === 0;
  }

  function loadGrid(page) {
    var grid = byId("grid");
    var target = page || grid.dataset.page || "1";
    return fetch(live.grid + "?page=" + encodeURIComponent(target),
                 { credentials: "same-origin", cache: "no-store" })
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) {
        if (html !== null) { grid.innerHTML = html; grid.dataset.page = target; }
      });
  }

  function refreshDetails() {
    clearTimeout(detailsTimer);
    detailsTimer = null;
    lastDetails = Date.now();
    fetch(live.summary, { credentials: "same-origin", cache: "no-store" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (job) {
        if (!job) { return; }
        setText("eta", etaText(job));
        setText("docs-failed", job.failed_documents);
        renderWarnings(job.warnings || []);
      })
      .catch(function () { /* the next refresh tries again */ });
    loadGrid().catch(function () { /* idem */ });
  }

  byId("grid").addEventListener("click", function (ev) {
    var link = ev.target.closest("a[data-page]");
    if (!link) { return; }
    ev.preventDefault();
    loadGrid(link.dataset.page);
  });

  /* ------------------------------------------------------------------ polling */
  function token() {
    return new URL(live.events, window.location.href).searchParams.get("access_token");
  }

  function fetchStatus() {
    var headers = { "Api-Key": token() };
    if (state.etag) { headers["If-None-Match"] = state.etag; }
    return fetch(live.status, { headers: headers, cache: "no-store" });
  }

  /* While on events, a rare conditional poll (a 304 costs nothing) catches up if the stream
   * stalls without erroring, so the page can never stay stuck. */
  function safetyCheck() {
    if (state.finished || state.polling) { clearInterval(safetyTimer); return; }
    fetchStatus().then(function (r) {
      if (r.status !== 200) { return null; }
      state.etag = r.headers.get("ETag");
      return r.json().then(applyStatus);
    }).catch(function () { /* the stream or the next check will do */ });
  }

  function poll() {
    var delay = 1;
    fetchStatus()
      .then(function (r) {
        var hint = r.headers.get("X-Poll-After");
        if (hint !== null) { delay = Number(hint); }
        if (r.status === 200) {
          state.etag = r.headers.get("ETag");
          return r.json().then(applyStatus);
        }
        if (r.status === 429 || r.status === 503) {
          delay = Number(r.headers.get("Retry-After")) || 2;
        } else if (r.status !== 304) {
          setLive("status unavailable (HTTP " + r.status + ")", false);
          delay = 5;
        }
        return null;
      })
      .catch(function () { delay = 2; })
      .then(function () {
        if (!state.finished) { pollTimer = setTimeout(poll, Math.max(0.1, delay) * 1000); }
      });
  }

  function startPolling() {
    if (state.finished || state.polling) { return; }
    state.polling = true;
    if (es) { es.close(); es = null; }
    setLive("live (polling)", true);
    poll();
  }

  /* ------------------------------------------------------------------- events */
  function connectEvents() {
    if (!window.EventSource) { startPolling(); return; }
    var heard = false;
    es = new EventSource(live.events);
    safetyTimer = setInterval(safetyCheck, SAFETY_MS);
    var watchdog = setTimeout(function () { if (!heard) { startPolling(); } }, SILENCE_MS);
    es.addEventListener("status", function (ev) {
      heard = true;
      clearTimeout(watchdog);
      setLive("live", true);
      applyStatus(JSON.parse(ev.data));
    });
    es.onerror = function () {
      if (state.finished) { return; }
      if (es && es.readyState === EventSource.CLOSED) {
        clearTimeout(watchdog);
        startPolling();
      } else {
        setLive("reconnecting…", false);
      }
    };
  }

  /* --------------------------------------------------------------------- start */
  setProgress(Number(byId("progress-fill").dataset.value));
  setPhase(byId("phases").dataset.phase, state.status);
  if (terminal.has(state.status)) {
    state.finished = true;
    setLive("finished", false);
  } else {
    connectEvents();
  }
}());
