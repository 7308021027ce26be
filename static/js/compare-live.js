// The compare page: every panel whose job is under way follows it live (job-socket.js) and,
// when it ends, takes its result, caption and metrics from the page as the server now draws it.
(function () {
  "use strict";
  const { FINISHED, follow, formatEta, formatQueue } = window.HeritageJobs;

  // The page as the server draws it now; tried again a few times when the server fails or does
  // not show the job ended yet (the event can reach the socket before the page sees the row).
  async function refresh(engine, attempt = 1) {
    const selector = (root, what) => root.querySelector(`${what}[data-engine="${CSS.escape(engine)}"]`);
    let fresh = null;
    try {
      const response = await fetch(location.href, { credentials: "same-origin" });
      if (response.ok) fresh = new DOMParser().parseFromString(await response.text(), "text/html");
    } catch (error) {
      fresh = null;
    }
    const newPanel = fresh && selector(fresh, ".compare-panel");
    if (!newPanel || !FINISHED.includes(newPanel.dataset.status)) {
      if (attempt < 6) setTimeout(() => refresh(engine, attempt + 1), 500 * attempt);
      return;
    }
    const panel = selector(document, ".compare-panel");
    if (panel && newPanel) {
      // The zoom content element stays (sync-zoom.js holds it): only what it shows changes.
      panel.querySelector(".zoom-content").innerHTML = newPanel.querySelector(".zoom-content").innerHTML;
      panel.querySelector("figcaption").innerHTML = newPanel.querySelector("figcaption").innerHTML;
      panel.dataset.status = newPanel.dataset.status || "";
      const toggle = document.getElementById("toggle-outline");
      for (const outline of panel.querySelectorAll(".outline")) outline.hidden = !(toggle && toggle.checked);
    }
    const row = selector(document, "tr");
    const newRow = selector(fresh, "tr");
    if (row && newRow) row.replaceWith(document.importNode(newRow, true));
    // The best values may have moved to the new row: take the table's marks as drawn.
    const table = document.querySelector("table.metrics");
    const newTable = fresh.querySelector("table.metrics");
    if (table && newTable) table.replaceWith(document.importNode(newTable, true));
  }

  for (const panel of document.querySelectorAll(".compare-panel[data-job]")) {
    if (FINISHED.includes(panel.dataset.status)) continue;
    const engine = panel.dataset.engine;
    const status = panel.querySelector("[data-live-status]");
    const bar = panel.querySelector("progress");
    const image = panel.querySelector("[data-live-preview]");
    follow(panel.dataset.job, {
      onState: (message) => {
        panel.dataset.status = message.status;
        if (message.total) {
          bar.max = message.total;
          bar.value = message.step;
        }
        const queue = formatQueue(message);
        const step = message.total ? `Step ${message.step} of ${message.total}` : "Starting…";
        status.textContent = message.notice || queue
          || (message.status === "running" ? `${step} ${formatEta(message.eta)}`.trim() : "Waiting for a worker…");
        if (message.preview) {
          image.src = message.preview;
          image.hidden = false;
        }
      },
      onEnd: (message) => {
        panel.dataset.status = message.status || message.type;
        status.textContent = message.type === "finished" || message.status === "succeeded"
          ? "Finished: loading the result…" : (message.error || "Stopped.");
        refresh(engine);
      },
      onReconnecting: () => { status.textContent = "Connection lost, reconnecting…"; },
    });
  }
})();
