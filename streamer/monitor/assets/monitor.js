// damer live monitor: draws what `damer stream --monitor` sends over its WebSocket (/ws).
// Messages (JSON, by "type"): info, history, update, stats, end (see streamer/monitor/feed.py).
"use strict";

(() => {
  const HISTORY_S = 60; // audio seconds on the time plot
  const TRAIL_S = 8; // audio seconds of trail on the plane
  const GAP_S = 1; // a jump in audio time larger than this breaks the lines (skipped audio)
  const RETRY_MIN_MS = 250;
  const RETRY_MAX_MS = 2000;
  const LIVE_AGE_MS = 1500; // an update older than this no longer counts as live

  const $ = (id) => document.getElementById(id);
  const css = getComputedStyle(document.documentElement);
  const colour = (name) => css.getPropertyValue(name).trim();
  const COLOURS = {
    valence: colour("--valence"),
    arousal: colour("--arousal"),
    line: colour("--line"),
    muted: colour("--muted"),
    text: colour("--text"),
  };

  const view = {
    stream: null, // id of the stream shown; a new one clears the plots
    points: [], // {t, v, a}, oldest first, the last HISTORY_S of audio time
    latest: null, // the newest update message
    receivedAt: 0, // performance.now() when it arrived
    ended: null, // why the stream ended, or null
    connected: false,
    dirty: true,
  };

  // ------------------------------------------------------------------ connection

  let retryMs = RETRY_MIN_MS;

  function connect() {
    const scheme = location.protocol === "https:" ? "wss://" : "ws://";
    const socket = new WebSocket(scheme + location.host + "/ws");
    socket.onopen = () => {
      retryMs = RETRY_MIN_MS;
      view.connected = true;
      showState();
    };
    socket.onmessage = (event) => {
      let message;
      try {
        message = JSON.parse(event.data);
      } catch {
        return;
      }
      handle(message);
    };
    socket.onclose = () => {
      view.connected = false;
      showState();
      setTimeout(connect, retryMs);
      retryMs = Math.min(RETRY_MAX_MS, retryMs * 2);
    };
  }

  function handle(message) {
    switch (message.type) {
      case "info":
        if (message.stream !== view.stream) {
          view.stream = message.stream;
          view.points = [];
          view.latest = null;
          view.ended = null;
          view.dirty = true;
        }
        $("model").textContent = message.model || "–";
        $("input").textContent = message.input || "waiting for the first audio";
        break;
      case "history":
        view.points = message.time.map((t, i) => ({ t, v: message.valence[i], a: message.arousal[i] }));
        view.dirty = true;
        break;
      case "update":
        showUpdate(message);
        break;
      case "stats":
        showStats(message);
        break;
      case "end":
        view.ended = message.stopped_by || "ended";
        break;
    }
    showState();
  }

  // ------------------------------------------------------------------ text

  const signed = (x) => (x >= 0 ? "+" : "") + x.toFixed(3);

  function setBar(id, fraction, bipolar) {
    const bar = $(id);
    const f = Math.max(0, Math.min(1, fraction));
    if (bipolar) {
      bar.style.left = `${Math.min(f, 0.5) * 100}%`;
      bar.style.width = `${Math.abs(f - 0.5) * 100}%`;
    } else {
      bar.style.left = "0";
      bar.style.width = `${f * 100}%`;
    }
  }

  function showUpdate(m) {
    view.latest = m;
    view.receivedAt = performance.now();
    const points = view.points;
    if (points.length && m.time < points[points.length - 1].t) points.length = 0;
    points.push({ t: m.time, v: m.valence, a: m.arousal });
    let first = 0;
    while (first < points.length && points[first].t < m.time - HISTORY_S) first += 1;
    if (first) points.splice(0, first);
    $("time").textContent = `${m.time.toFixed(2)} s`;
    $("valence").textContent = signed(m.valence);
    $("arousal").textContent = signed(m.arousal);
    $("p-high-valence").textContent = m.p_high_valence.toFixed(3);
    $("p-high-arousal").textContent = m.p_high_arousal.toFixed(3);
    setBar("valence-bar", (m.valence + 1) / 2, true);
    setBar("arousal-bar", (m.arousal + 1) / 2, true);
    setBar("p-high-valence-bar", m.p_high_valence, false);
    setBar("p-high-arousal-bar", m.p_high_arousal, false);
    view.dirty = true;
  }

  function showStats(m) {
    $("rate").textContent = m.updates_per_s.toFixed(1);
    $("compute").textContent =
      m.compute_mean_ms === null ? "–" : `${m.compute_mean_ms.toFixed(2)} ms mean, ${m.compute_p99_ms.toFixed(2)} ms p99`;
    $("overruns").textContent = `${m.overrun_s.toFixed(3)} s lost`;
    $("skipped").textContent = `${m.skipped_s.toFixed(3)} s in ${m.skips} skip${m.skips === 1 ? "" : "s"}`;
  }

  function ageMs() {
    return view.latest ? view.latest.age_ms + (performance.now() - view.receivedAt) : null;
  }

  function showState() {
    let state;
    let text;
    const age = ageMs();
    if (!view.connected) {
      state = "reconnecting";
      text = view.ended ? `stream ended (${view.ended}); waiting for the next one` : "not connected; retrying…";
    } else if (view.ended) {
      state = "ended";
      text = `stream ended (${view.ended})`;
    } else if (age !== null && age < LIVE_AGE_MS) {
      state = "live";
      text = "live";
    } else {
      state = "waiting";
      text = view.latest ? "no update for a while" : "connected; waiting for audio";
    }
    if (document.body.dataset.state !== state) document.body.dataset.state = state;
    const shown = $("state");
    if (shown.textContent !== text) shown.textContent = text;
  }

  function showAge() {
    const age = ageMs();
    $("age").textContent = age === null ? "–" : age < 1000 ? `${Math.round(age)} ms` : `${(age / 1000).toFixed(1)} s`;
  }

  // ------------------------------------------------------------------ drawing

  function fit(canvas) {
    const ratio = window.devicePixelRatio || 1;
    const width = Math.round(canvas.clientWidth * ratio);
    const height = Math.round(canvas.clientHeight * ratio);
    if (canvas.width !== width || canvas.height !== height) {
      canvas.width = width;
      canvas.height = height;
    }
    const context = canvas.getContext("2d");
    context.setTransform(ratio, 0, 0, ratio, 0, 0);
    return { context, width: canvas.clientWidth, height: canvas.clientHeight };
  }

  function drawPlane() {
    const { context: g, width, height } = fit($("plane"));
    const pad = 28;
    const size = Math.min(width, height) - 2 * pad;
    const x = (v) => pad + ((v + 1) / 2) * size;
    const y = (a) => pad + ((1 - a) / 2) * size;
    g.clearRect(0, 0, width, height);
    g.strokeStyle = COLOURS.line;
    g.lineWidth = 1;
    g.strokeRect(pad, pad, size, size);
    g.beginPath();
    g.moveTo(x(0), pad);
    g.lineTo(x(0), pad + size);
    g.moveTo(pad, y(0));
    g.lineTo(pad + size, y(0));
    g.stroke();

    g.fillStyle = COLOURS.muted;
    g.font = "12px system-ui, sans-serif";
    g.textAlign = "center";
    g.fillText("valence →", x(0), pad + size + 18);
    g.save();
    g.translate(pad - 12, y(0));
    g.rotate(-Math.PI / 2);
    g.fillText("arousal →", 0, 0);
    g.restore();
    const corners = [
      ["tense · angry", -0.5, 0.92],
      ["excited · happy", 0.5, 0.92],
      ["sad · tired", -0.5, -0.96],
      ["calm · content", 0.5, -0.96],
    ];
    for (const [label, v, a] of corners) g.fillText(label, x(v), y(a));

    const latest = view.latest;
    if (!latest) return;
    const trail = view.points.filter((p) => p.t >= latest.time - TRAIL_S);
    g.lineCap = "round";
    for (let i = 1; i < trail.length; i += 1) {
      const p = trail[i - 1];
      const q = trail[i];
      if (q.t - p.t > GAP_S) continue;
      const fade = 1 - (latest.time - q.t) / TRAIL_S;
      g.strokeStyle = `rgba(230, 233, 238, ${0.6 * fade * fade})`;
      g.lineWidth = 1 + 2.5 * fade;
      g.beginPath();
      g.moveTo(x(p.v), y(p.a));
      g.lineTo(x(q.v), y(q.a));
      g.stroke();
    }
    const px = x(latest.valence);
    const py = y(latest.arousal);
    g.fillStyle = "rgba(244, 163, 64, 0.25)";
    g.beginPath();
    g.arc(px, py, 14, 0, 2 * Math.PI);
    g.fill();
    g.fillStyle = COLOURS.valence;
    g.beginPath();
    g.arc(px, py, 6, 0, 2 * Math.PI);
    g.fill();
  }

  function drawHistory() {
    const { context: g, width, height } = fit($("history"));
    const left = 28;
    const bottom = 18;
    const plotWidth = width - left;
    const plotHeight = height - bottom;
    g.clearRect(0, 0, width, height);
    const latest = view.latest;
    const end = latest ? latest.time : HISTORY_S;
    const start = end - HISTORY_S;
    const x = (t) => left + ((t - start) / HISTORY_S) * plotWidth;
    const y = (value) => ((1 - value) / 2) * plotHeight;

    g.strokeStyle = COLOURS.line;
    g.lineWidth = 1;
    g.strokeRect(left, 0, plotWidth, plotHeight);
    g.beginPath();
    g.moveTo(left, y(0));
    g.lineTo(width, y(0));
    g.stroke();
    g.fillStyle = COLOURS.muted;
    g.font = "11px system-ui, sans-serif";
    g.textAlign = "right";
    for (const value of [1, 0, -1]) g.fillText(String(value), left - 4, Math.min(plotHeight, Math.max(10, y(value) + 4)));
    for (let s = 0; s <= HISTORY_S; s += 10) {
      g.textAlign = s === 0 ? "left" : s === HISTORY_S ? "right" : "center";
      g.fillText(s === HISTORY_S ? "now" : `-${HISTORY_S - s} s`, x(start + s), height - 4);
    }
    g.textAlign = "left";
    g.fillStyle = COLOURS.valence;
    g.fillText("valence", left + 6, 14);
    g.fillStyle = COLOURS.arousal;
    g.fillText("arousal", left + 62, 14);

    for (const [key, colourOf] of [
      ["v", COLOURS.valence],
      ["a", COLOURS.arousal],
    ]) {
      g.strokeStyle = colourOf;
      g.lineWidth = 1.6;
      g.beginPath();
      let previous = null;
      for (const p of view.points) {
        if (previous === null || p.t - previous.t > GAP_S) g.moveTo(x(p.t), y(p[key]));
        else g.lineTo(x(p.t), y(p[key]));
        previous = p;
      }
      g.stroke();
    }
  }

  function frame() {
    showAge();
    showState();
    if (view.dirty) {
      view.dirty = false;
      drawPlane();
      drawHistory();
    }
    requestAnimationFrame(frame);
  }

  window.addEventListener("resize", () => {
    view.dirty = true;
  });
  connect();
  requestAnimationFrame(frame);
})();
