// Live training run: progress, the loss curve (inline SVG) and the latest samples over the
// run's WebSocket (DESIGN sec. 6 messages, plus "losses" in snapshots and "point" in progress).
(function () {
  "use strict";
  const live = document.getElementById("training-live");
  const initial = JSON.parse(document.getElementById("training-state").textContent);
  if (!live) return;
  const FINISHED = ["succeeded", "failed", "cancelled"];
  const bar = document.getElementById("training-progress");
  const text = document.getElementById("training-progress-text");
  const eta = document.getElementById("training-eta");
  const line = document.getElementById("loss-line");
  const axes = document.getElementById("loss-axes");
  const labels = document.getElementById("loss-labels");
  const caption = document.getElementById("loss-caption");
  const sample = document.getElementById("training-sample");
  const sampleCaption = document.getElementById("training-sample-caption");
  const SVG = "http://www.w3.org/2000/svg";
  const W = 600, H = 260, LEFT = 52, RIGHT = 8, TOP = 8, BOTTOM = 24;
  let points = (initial.losses || []).slice();
  let total = initial.total || 1;
  let attempts = 0;
  let done = false;

  function svg(name, attributes, content) {
    const node = document.createElementNS(SVG, name);
    for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, value);
    if (content !== undefined) node.textContent = content;
    return node;
  }

  // A point is [step, loss] (one loss) or [step, {name: loss, ...}] (style engines: several).
  const COLOURS = ["#1f6f8b", "#c0392b", "#27ae60", "#8e44ad", "#d68910", "#2c3e50", "#e84393", "#7f8c8d"];
  const seriesGroup = document.getElementById("loss-series");
  const legend = document.getElementById("loss-legend");

  function names() {
    const found = [];
    for (const p of points) {
      if (typeof p[1] === "object") for (const key of Object.keys(p[1])) if (!found.includes(key)) found.push(key);
    }
    return found;
  }

  function latestText() {
    const last = points[points.length - 1];
    if (typeof last[1] === "number") return last[1].toPrecision(4);
    return Object.entries(last[1]).map(([key, value]) => `${key} ${value.toPrecision(3)}`).join(", ");
  }

  // Losses span decades while a model learns: a log scale keeps the tail readable.
  function draw() {
    axes.replaceChildren();
    labels.replaceChildren();
    if (seriesGroup) seriesGroup.replaceChildren();
    if (legend) legend.replaceChildren();
    live.dataset.points = String(points.length);
    caption.textContent = points.length
      ? `Loss by step: ${points.length} points, latest ${latestText()} at step ${points[points.length - 1][0]}.`
      : "Loss by step: the curve appears with the first steps.";
    if (!points.length) { line.setAttribute("points", ""); return; }
    const keys = names();
    const series = keys.length
      ? keys.map((key) => points.filter((p) => p[1][key] != null).map((p) => [p[0], Math.log10(Math.max(p[1][key], 1e-8))]))
      : [points.map((p) => [p[0], Math.log10(Math.max(p[1], 1e-8))])];
    const logs = series.flat().map((p) => p[1]);
    let low = Math.min(...logs), high = Math.max(...logs);
    if (high - low < 1e-6) { low -= 0.5; high += 0.5; }
    const x = (step) => LEFT + (W - LEFT - RIGHT) * step / Math.max(total, 1);
    const y = (value) => TOP + (H - TOP - BOTTOM) * (high - value) / (high - low);
    const path = (pts) => pts.map((p) => `${x(p[0]).toFixed(1)},${y(p[1]).toFixed(1)}`).join(" ");
    if (keys.length && seriesGroup) {
      line.setAttribute("points", "");
      keys.forEach((key, i) => {
        const colour = COLOURS[i % COLOURS.length];
        seriesGroup.append(svg("polyline", { points: path(series[i]), fill: "none", stroke: colour, "stroke-width": 1.5, "data-loss": key }));
        if (legend) legend.append(svg("text", { x: LEFT + 8 + (i % 4) * 130, y: TOP + 12 + Math.floor(i / 4) * 14, fill: colour }, key));
      });
    } else {
      line.setAttribute("points", path(series[0]));
    }
    axes.append(svg("line", { x1: LEFT, y1: TOP, x2: LEFT, y2: H - BOTTOM }));
    axes.append(svg("line", { x1: LEFT, y1: H - BOTTOM, x2: W - RIGHT, y2: H - BOTTOM }));
    for (const value of [high, (high + low) / 2, low]) {
      labels.append(svg("text", { x: 2, y: y(value) + 4 }, (10 ** value).toPrecision(3)));
    }
    labels.append(svg("text", { x: LEFT, y: H - 6 }, "0"));
    labels.append(svg("text", { x: W - RIGHT - 60, y: H - 6 }, `step ${total}`));
  }

  function show(message) {
    live.dataset.status = message.status || live.dataset.status;
    if (message.total) total = message.total;
    bar.max = total;
    bar.value = message.step || 0;
    text.textContent = message.status === "pending"
      ? "Waiting for a training worker…"
      : `Step ${message.step || 0} of ${total}` + (message.loss != null ? ` · loss ${message.loss.toPrecision(4)}` : "")
        + (message.step_losses ? " · " + Object.entries(message.step_losses).map(([k, v]) => `${k} ${v.toPrecision(3)}`).join(", ") : "");
    if (message.notice) text.textContent = message.notice;
    eta.textContent = message.eta == null ? "" : (message.eta < 90 ? `about ${Math.max(1, Math.round(message.eta))} s left` : `about ${Math.round(message.eta / 60)} min left`);
    if (message.preview) {
      sample.src = message.preview;
    } else if (message.type === "snapshot" && message.sample_url) {
      sample.src = message.sample_url;
    }
    if (message.preview || (message.type === "snapshot" && message.sample_url)) {
      sample.hidden = false;
      live.dataset.sampleStep = String(message.sample_step || "");
      sampleCaption.textContent = `Samples at step ${message.sample_step}: ${live.dataset.sampleLegend || "damaged input | restoration | truth"}.`;
    }
  }

  function connect() {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const socket = new WebSocket(`${scheme}://${location.host}/ws/restoration/training/${initial.job}/`);
    socket.addEventListener("open", () => { attempts = 0; });
    socket.addEventListener("message", (event) => {
      const message = JSON.parse(event.data);
      if (message.type === "snapshot") {
        points = (message.losses || []).slice();
        show(message);
        draw();
        if (FINISHED.includes(message.status) && !FINISHED.includes(initial.status)) {
          done = true;
          location.reload();
        }
      } else if (message.type === "progress") {
        const last = points.length ? points[points.length - 1][0] : 0;
        if (message.point && message.point[0] > last) { points.push(message.point); draw(); }
        show(message);
      } else if (["finished", "failed", "cancelled"].includes(message.type)) {
        done = true;
        if (message.losses) { points = message.losses.slice(); draw(); }
        text.textContent = message.type === "finished" ? "Finished: weights registered." : `Training ${message.type}.`;
        socket.close();
        location.reload();
      }
    });
    socket.addEventListener("close", () => {
      if (done) return;
      attempts += 1;
      text.textContent = "Connection lost, reconnecting…";
      const delay = Math.min(10000, 500 * 2 ** attempts);
      setTimeout(connect, delay / 2 + Math.random() * (delay / 2));
    });
  }
  show({ ...initial, type: "snapshot" });
  draw();
  if (!FINISHED.includes(initial.status)) connect();
})();
