// Synchronised zoom and pan: every panel of a [data-sync-zoom] grid shows the same view.
(function () {
  "use strict";
  for (const grid of document.querySelectorAll("[data-sync-zoom]")) {
    const frames = [...grid.querySelectorAll(".zoom-frame")];
    const view = { scale: 1, x: 0, y: 0 };
    let drag = null;
    const apply = () => {
      for (const frame of frames) {
        frame.firstElementChild.style.transform = `translate(${view.x}px, ${view.y}px) scale(${view.scale})`;
      }
    };
    for (const frame of frames) {
      frame.addEventListener("wheel", (event) => {
        event.preventDefault();
        const rect = frame.getBoundingClientRect();
        const cx = event.clientX - rect.left;
        const cy = event.clientY - rect.top;
        const next = Math.min(16, Math.max(1, view.scale * Math.exp(-event.deltaY * 0.0015)));
        const k = next / view.scale;
        view.x = cx - (cx - view.x) * k;
        view.y = cy - (cy - view.y) * k;
        view.scale = next;
        if (next === 1) { view.x = 0; view.y = 0; }
        apply();
      }, { passive: false });
      frame.addEventListener("pointerdown", (event) => {
        frame.setPointerCapture(event.pointerId);
        drag = { x: event.clientX - view.x, y: event.clientY - view.y };
      });
      frame.addEventListener("pointermove", (event) => {
        if (!drag) return;
        view.x = event.clientX - drag.x;
        view.y = event.clientY - drag.y;
        apply();
      });
      frame.addEventListener("pointerup", () => { drag = null; });
      frame.addEventListener("dblclick", () => { view.scale = 1; view.x = 0; view.y = 0; apply(); });
    }
  }
})();
