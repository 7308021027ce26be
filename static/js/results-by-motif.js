// "Add a work": as the curator chooses a motif, only that motif's results stay listed.
// Without this script the form still works: its "Show its results" button reloads the page
// with ?motif=<id>, and the server lists the same results; it refuses another motif's anyway.
(function () {
  "use strict";
  document.querySelectorAll("[data-results-by-motif]").forEach((form) => {
    const motif = form.querySelector("select[name=motif]");
    const status = form.querySelector("[data-results-status]");
    const none = form.querySelector("input[name=restoration][value='']");
    const choices = [...form.querySelectorAll(".result-choice[data-motif]")];
    if (!motif) return;
    const show = form.querySelector("[data-show-results]");
    // Filtering happens as the motif changes; a button left in the form would also be the
    // one Enter presses.
    if (show) show.remove();

    const filter = () => {
      let count = 0;
      for (const choice of choices) {
        const matches = motif.value !== "" && choice.dataset.motif === motif.value;
        choice.hidden = !matches;
        const input = choice.querySelector("input");
        if (matches) {
          count += 1;
        } else if (input.checked) {
          // A result of another motif would only be refused: back to "as photographed".
          input.checked = false;
          if (none) none.checked = true;
        }
      }
      if (!status) return;
      if (motif.value === "") {
        status.textContent = "Choose a motif to see its results.";
      } else if (count) {
        status.textContent = `${count} result${count === 1 ? "" : "s"} of this motif.`;
      } else {
        status.textContent = "No finished result of this motif yet: it can be shown as photographed.";
      }
    };
    motif.addEventListener("change", filter);
    filter();
  });
})();
