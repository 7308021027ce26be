// Follows one job over its WebSocket (DESIGN sec. 6 message format), for the job page and the
// compare page's panels: snapshot and progress messages go to onState, the end (a final event,
// or a snapshot of a finished job) to onEnd once; a lost connection is reopened with backoff.
window.HeritageJobs = (function () {
  "use strict";
  const FINISHED = ["succeeded", "failed", "cancelled"];

  function formatEta(seconds) {
    if (seconds == null) return "";
    if (seconds < 60) return `about ${Math.max(1, Math.round(seconds))} s left`;
    return `about ${Math.round(seconds / 60)} min left`;
  }

  // "Waiting for a worker: 2 jobs ahead of this one" (message.ahead, pending jobs only).
  function formatQueue(message) {
    if (message.status !== "pending" || message.ahead == null) return "";
    if (message.ahead === 0) return "Waiting for a worker: this job is next.";
    const jobs = message.ahead === 1 ? "1 job" : `${message.ahead} jobs`;
    return `Waiting for a worker: ${jobs} ahead of this one.`;
  }

  function follow(jobId, { onState, onEnd, onReconnecting }) {
    let attempts = 0;
    let done = false;
    function end(message, socket) {
      if (done) return;
      done = true;
      socket.close();
      if (onEnd) onEnd(message);
    }
    function connect() {
      const scheme = location.protocol === "https:" ? "wss" : "ws";
      const socket = new WebSocket(`${scheme}://${location.host}/ws/restoration/jobs/${jobId}/`);
      socket.addEventListener("open", () => { attempts = 0; });
      socket.addEventListener("message", (event) => {
        const message = JSON.parse(event.data);
        if (message.type === "snapshot" || message.type === "progress") {
          if (onState) onState(message);
          if (message.type === "snapshot" && FINISHED.includes(message.status)) end(message, socket);
        } else if (["finished", "failed", "cancelled"].includes(message.type)) {
          end(message, socket);
        }
      });
      socket.addEventListener("close", () => {
        if (done) return;
        // Jittered backoff, so a restarted server is not hit by every page at once; the
        // server's snapshot on reconnect catches up on missed steps.
        attempts += 1;
        if (onReconnecting) onReconnecting();
        const delay = Math.min(10000, 500 * 2 ** attempts);
        setTimeout(connect, delay / 2 + Math.random() * (delay / 2));
      });
    }
    connect();
  }

  return { FINISHED, follow, formatEta, formatQueue };
})();
