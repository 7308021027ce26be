// Study voting: choose a candidate (click, tap, keys 1-9, 0 for "not sure"), then confirm with the
// button or Enter; enlarge any image (button, Z) in a dialog that Escape closes. Without this
// script the page is a plain form of radio buttons and a submit button, and "Enlarge" opens the
// image itself.
(function () {
  "use strict";
  const form = document.querySelector("[data-study-form]");
  if (!form) return;
  const radios = [...form.querySelectorAll("input[name=choice]")];
  const status = form.querySelector("[data-study-selection]");
  const confirm = form.querySelector("[data-study-confirm]");
  const dialog = document.querySelector("[data-study-zoom]");
  const zoomLinks = [...document.querySelectorAll("[data-zoom-label]")];
  const candidateLinks = zoomLinks.filter((link) => link.dataset.zoomChoice);
  const image = dialog.querySelector("[data-zoom-image]");
  const title = dialog.querySelector("[data-zoom-title]");
  const frame = dialog.querySelector("[data-zoom-frame]");
  const actual = dialog.querySelector("[data-zoom-actual]");
  const pick = dialog.querySelector("[data-zoom-pick]");
  const prev = dialog.querySelector("[data-zoom-prev]");
  const next = dialog.querySelector("[data-zoom-next]");
  let shown = null; // the zoom link whose image the dialog shows
  let opener = null;
  let sent = false;
  // The script says what is missing itself (see the submit handler), in the status line.
  form.noValidate = true;

  const chosen = () => radios.find((radio) => radio.checked) || null;
  // "Candidate B" as it reads within a sentence: "Confirm candidate B".
  const inSentence = (label) => label.replace(/^Candidate /, "candidate ");
  const labelOf = (radio) => {
    const img = form.querySelector(`label[for="${radio.id}"] img`);
    return img ? img.alt : "Not sure";
  };

  function update() {
    const radio = chosen();
    if (radio) {
      const label = labelOf(radio);
      status.textContent = `${label} chosen. Confirm to vote, or choose another.`;
      confirm.textContent = label === "Not sure" ? "Confirm “Not sure”" : `Confirm ${inSentence(label)}`;
    } else {
      status.textContent = "Nothing chosen yet: click, tap or press a number, then confirm.";
      confirm.textContent = "Confirm choice";
    }
  }

  function choose(radio) {
    radio.checked = true;
    radio.focus({ preventScroll: dialog.open });
    update();
  }

  for (const radio of radios) radio.addEventListener("change", update);

  form.addEventListener("submit", (event) => {
    // One vote per page: a second Enter or click while the first is on its way sends nothing.
    if (sent) {
      event.preventDefault();
      return;
    }
    if (!chosen()) {
      event.preventDefault();
      status.textContent = "Choose a candidate first (click, tap or press a number), then confirm.";
      return;
    }
    sent = true;
    confirm.setAttribute("aria-disabled", "true");
  });

  // The enlarged view.
  function show(link) {
    shown = link;
    image.src = link.href;
    image.alt = link.dataset.zoomLabel + ", enlarged";
    title.textContent = link.dataset.zoomLabel;
    const isCandidate = Boolean(link.dataset.zoomChoice);
    pick.hidden = !isCandidate;
    prev.hidden = next.hidden = !isCandidate || candidateLinks.length < 2;
    if (isCandidate) {
      const radio = document.getElementById(link.dataset.zoomChoice);
      pick.textContent = radio.checked ? `${link.dataset.zoomLabel} is chosen` : `Choose ${inSentence(link.dataset.zoomLabel)}`;
      pick.setAttribute("aria-pressed", String(radio.checked));
    }
  }

  function open(link) {
    opener = document.activeElement;
    show(link);
    setActual(false);
    if (!dialog.open) dialog.showModal();
    frame.focus();
  }

  function step(by) {
    const at = candidateLinks.indexOf(shown);
    if (at < 0) return;
    show(candidateLinks[(at + by + candidateLinks.length) % candidateLinks.length]);
  }

  function setActual(on) {
    frame.classList.toggle("actual", on);
    actual.setAttribute("aria-pressed", String(on));
  }

  for (const link of zoomLinks) {
    link.addEventListener("click", (event) => {
      if (event.ctrlKey || event.metaKey || event.shiftKey || event.button !== 0) return;
      event.preventDefault();
      open(link);
    });
  }
  prev.addEventListener("click", () => step(-1));
  next.addEventListener("click", () => step(1));
  actual.addEventListener("click", () => setActual(actual.getAttribute("aria-pressed") !== "true"));
  pick.addEventListener("click", () => {
    const radio = document.getElementById(shown.dataset.zoomChoice);
    dialog.close();
    choose(radio);
  });
  dialog.querySelector("[data-zoom-close]").addEventListener("click", () => dialog.close());
  // A click on the backdrop (the dialog box itself, outside its contents) closes it too.
  dialog.addEventListener("click", (event) => { if (event.target === dialog) dialog.close(); });
  dialog.addEventListener("close", () => {
    image.removeAttribute("src");
    shown = null;
    const back = chosen() || opener;
    if (back && document.contains(back)) back.focus();
  });

  function zoomTarget() {
    const radio = chosen() || radios.find((r) => r === document.activeElement);
    const link = radio && candidateLinks.find((l) => l.dataset.zoomChoice === radio.id);
    return link || candidateLinks[0];
  }

  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey || event.isComposing) return;
    const target = event.target;
    if (target.matches && target.matches("input[type=text], input[type=search], textarea, select, [contenteditable]")) return;
    const radio = radios.find((r) => r.dataset.key === event.key);
    if (dialog.open) {
      if (event.key === "ArrowLeft") { step(-1); event.preventDefault(); }
      else if (event.key === "ArrowRight") { step(1); event.preventDefault(); }
      else if (radio) {
        choose(radio);
        const link = candidateLinks.find((l) => l.dataset.zoomChoice === radio.id);
        if (link) show(link);
        event.preventDefault();
      }
      return; // Escape is the dialog's own
    }
    if (radio) {
      choose(radio);
      event.preventDefault();
    } else if (event.key === "z" || event.key === "Z") {
      const link = zoomTarget();
      if (link) { open(link); event.preventDefault(); }
    } else if (event.key === "Enter") {
      // Buttons and links keep their own Enter; elsewhere Enter confirms the choice.
      if (target.closest && target.closest("button, a, summary")) return;
      event.preventDefault();
      form.requestSubmit(confirm);
    }
  });

  // Back to this page from the browser's cache: the vote sent from it may have been refused,
  // and the page must take a choice again (the server says if it was already counted).
  window.addEventListener("pageshow", (event) => {
    if (!event.persisted) return;
    sent = false;
    confirm.removeAttribute("aria-disabled");
    update();
  });

  update();
})();
