// Before/after slider: the "after" image is clipped to the right of the handle.
(function () {
  "use strict";
  for (const slider of document.querySelectorAll("[data-slider]")) {
    const after = slider.querySelector(".after");
    const input = slider.querySelector("[data-slider-input]");
    const update = () => {
      after.style.clipPath = `inset(0 0 0 ${input.value}%)`;
      slider.style.setProperty("--split", `${input.value}%`);
    };
    input.addEventListener("input", update);
    update();
  }
  const toggle = document.getElementById("toggle-outline");
  if (toggle) {
    toggle.addEventListener("change", () => {
      for (const outline of document.querySelectorAll(".compare-slider .outline, .compare-panel .outline")) {
        outline.hidden = !toggle.checked;
      }
    });
  }
})();
