// The job page: live progress, ETA, queue position and the engine's estimate (job-socket.js).
(function () {
  "use strict";
  const live = document.getElementById("job-live");
  const initial = JSON.parse(document.getElementById("job-state").textContent);
  const { FINISHED, follow, formatEta, formatQueue } = window.HeritageJobs;

  // Cancel asks first: the engine's work so far is lost.
  const cancel = document.getElementById("cancel-job");
  if (cancel) {
    cancel.form.addEventListener("submit", (event) => {
      if (!window.confirm(cancel.dataset.confirm)) event.preventDefault();
    });
  }
  if (!live || FINISHED.includes(initial.status)) return;

  const bar = document.getElementById("job-progress");
  const text = document.getElementById("job-progress-text");
  const eta = document.getElementById("job-eta");
  const preview = document.getElementById("job-preview");
  const caption = document.getElementById("job-preview-caption");

  function show(message) {
    live.dataset.status = message.status || live.dataset.status;
    if (message.total) {
      bar.max = message.total;
      bar.value = message.step;
      text.textContent = `${message.status === "pending" ? "Waiting" : "Step"} ${message.step} of ${message.total}`;
    } else {
      text.textContent = message.status === "pending" ? "Waiting for a worker…" : "Starting…";
    }
    const queue = formatQueue(message);
    if (queue) text.textContent = queue;
    // The worker running the job stopped and the job waits to run again: say so.
    if (message.notice) text.textContent = message.notice;
    eta.textContent = formatEta(message.eta);
    if (message.preview) {
      preview.src = message.preview;
      preview.hidden = false;
      caption.textContent = `The engine's estimate at step ${message.step} of ${message.total}.`;
    }
  }

  show(initial);
  follow(initial.job, {
    onState: show,
    onEnd: (message) => {
      if (message.type === "finished" || message.status === "succeeded") {
        bar.value = bar.max;
        text.textContent = "Finished: loading the result…";
      }
      location.reload();
    },
    onReconnecting: () => { text.textContent = "Connection lost, reconnecting…"; },
  });
})();
