// Live progress of a restoration job over its WebSocket (DESIGN sec. 6 message format).
(function () {
  "use strict";
  const live = document.getElementById("job-live");
  const initial = JSON.parse(document.getElementById("job-state").textContent);
  if (!live || ["succeeded", "failed", "cancelled"].includes(initial.status)) return;

  const bar = document.getElementById("job-progress");
  const text = document.getElementById("job-progress-text");
  const eta = document.getElementById("job-eta");
  const preview = document.getElementById("job-preview");
  const caption = document.getElementById("job-preview-caption");
  let attempts = 0;
  let done = false;

  function formatSeconds(seconds) {
    if (seconds == null) return "";
    if (seconds < 60) return `about ${Math.max(1, Math.round(seconds))} s left`;
    return `about ${Math.round(seconds / 60)} min left`;
  }

  function show(message) {
    live.dataset.status = message.status || live.dataset.status;
    if (message.total) {
      bar.max = message.total;
      bar.value = message.step;
      text.textContent = `${message.status === "pending" ? "Waiting" : "Step"} ${message.step} of ${message.total}`;
    } else {
      text.textContent = message.status === "pending" ? "Waiting for a worker…" : "Starting…";
    }
    // The worker running the job stopped and the job waits to run again: say so.
    if (message.notice) text.textContent = message.notice;
    eta.textContent = formatSeconds(message.eta);
    if (message.preview) {
      preview.src = message.preview;
      preview.hidden = false;
      caption.textContent = `The engine's estimate at step ${message.step}.`;
    }
  }

  function connect() {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const socket = new WebSocket(`${scheme}://${location.host}/ws/restoration/jobs/${initial.job}/`);
    socket.addEventListener("open", () => { attempts = 0; });
    socket.addEventListener("message", (event) => {
      const message = JSON.parse(event.data);
      if (message.type === "snapshot" || message.type === "progress") {
        show(message);
        if (message.type === "snapshot" && ["succeeded", "failed", "cancelled"].includes(message.status)) {
          done = true;
          location.reload();
        }
      } else if (["finished", "failed", "cancelled"].includes(message.type)) {
        done = true;
        if (message.type === "finished") {
          bar.value = bar.max;
          text.textContent = "Finished: loading the result…";
        }
        socket.close();
        location.reload();
      }
    });
    socket.addEventListener("close", () => {
      if (done) return;
      // Reconnect with backoff (jittered, so a restarted server is not hit by every page at
      // once); the server's snapshot on reconnect catches up on missed steps.
      attempts += 1;
      text.textContent = "Connection lost, reconnecting…";
      const delay = Math.min(10000, 500 * 2 ** attempts);
      setTimeout(connect, delay / 2 + Math.random() * (delay / 2));
    });
  }
  show(initial);
  connect();
})();
