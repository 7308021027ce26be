// Work page: speaks the slider's position, toggles the outline overlay, arrow keys page through works.
(function () {
  "use strict";
  const input = document.getElementById("work-slider-input");
  if (input) {
    // "before" (the damaged photograph), or "photograph" beside a stylized image.
    const word = input.dataset.beforeWord || "before";
    const speak = () => input.setAttribute("aria-valuetext", `${input.value}% ${word}`);
    input.addEventListener("input", speak);
    speak();
  }

  const toggle = document.getElementById("outline-toggle");
  const outline = document.getElementById("work-outline");
  if (toggle && outline) {
    // Shown only with script running: without it the button could do nothing.
    toggle.hidden = false;
    toggle.addEventListener("click", () => {
      const pressed = toggle.getAttribute("aria-pressed") !== "true";
      toggle.setAttribute("aria-pressed", String(pressed));
      outline.hidden = !pressed;
    });
  }

  document.addEventListener("keydown", (event) => {
    if (event.key !== "ArrowLeft" && event.key !== "ArrowRight") return;
    if (event.altKey || event.ctrlKey || event.metaKey || event.shiftKey || event.defaultPrevented) return;
    // Arrow keys belong to the slider and to any field or control that has focus.
    const target = event.target;
    if (target.closest && target.closest("input, select, textarea, [contenteditable], [data-slider]")) return;
    const link = document.querySelector(`a[rel="${event.key === "ArrowLeft" ? "prev" : "next"}"]`);
    if (link) window.location.assign(link.href);
  });
})();
