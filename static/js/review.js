// Blind scoring page: keyboard shortcuts for the rubric, the outline toggle, one submit only.
(function () {
  "use strict";
  const form = document.getElementById("review-form");
  if (!form) return;
  const groups = [...form.querySelectorAll("[data-criterion]")];
  const status = document.getElementById("review-status");
  const submitButton = document.getElementById("review-submit");
  const skipForm = document.getElementById("review-skip-form");
  const outlineToggle = document.querySelector("[data-outline-toggle]");
  let sent = false;

  const radios = (group) => [...group.querySelectorAll("input[type=radio]")];
  const chosen = (group) => group.querySelector("input[type=radio]:checked");
  const missing = () => groups.filter((group) => !chosen(group));
  const say = (text) => { status.textContent = text; };

  let current = 0;
  function setCurrent(index, focus) {
    current = Math.min(Math.max(index, 0), groups.length - 1);
    groups.forEach((group, i) => group.classList.toggle("is-current", i === current));
    if (focus) (chosen(groups[current]) || radios(groups[current])[0]).focus();
  }
  const firstMissing = missing()[0];
  setCurrent(firstMissing ? groups.indexOf(firstMissing) : 0, false);

  function score(digit) {
    const group = groups[current];
    const radio = group.querySelector(`input[type=radio][value="${digit}"]`);
    if (!radio) return;
    radio.checked = true;
    radio.dispatchEvent(new Event("change", { bubbles: true }));
    say(`${group.dataset.label}: ${digit}, ${radio.dataset.word}.`);
    if (current < groups.length - 1) {
      setCurrent(current + 1, true);
    } else if (missing().length) {
      setCurrent(groups.indexOf(missing()[0]), true);
    } else {
      submitButton.focus();
    }
  }

  function refuseIncomplete() {
    const left = missing();
    say(`Score ${left.map((group) => group.dataset.label).join(", ")} before submitting.`);
    setCurrent(groups.indexOf(left[0]), true);
  }

  function isTyping(target) {
    if (target.isContentEditable) return true;
    if (target.tagName === "TEXTAREA" || target.tagName === "SELECT") return true;
    return target.tagName === "INPUT" && !["radio", "checkbox"].includes(target.type);
  }

  // Enter belongs to whatever other link or button has the focus (sign out, skip, ...).
  function ownsEnter(target) {
    if (target === submitButton) return true;
    return !target.closest("a, button, summary, [role=button]");
  }

  document.addEventListener("keydown", (event) => {
    if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey) return;
    if (isTyping(event.target)) return;
    const key = event.key;
    if (/^[1-5]$/.test(key)) {
      event.preventDefault();
      score(key);
    } else if (key === "ArrowDown" || key === "ArrowUp") {
      // Left/right keep their native meaning inside a radio group: change the score.
      event.preventDefault();
      setCurrent(current + (key === "ArrowDown" ? 1 : -1), true);
    } else if (key === "Enter" && ownsEnter(event.target)) {
      event.preventDefault();
      form.requestSubmit(submitButton);
    } else if (key.toLowerCase() === "s") {
      event.preventDefault();
      if (!sent) { sent = true; skipForm.submit(); }
    } else if (key.toLowerCase() === "o" && outlineToggle) {
      event.preventDefault();
      outlineToggle.click();
    }
  });

  form.addEventListener("focusin", (event) => {
    const group = event.target.closest("[data-criterion]");
    if (group) setCurrent(groups.indexOf(group), false);
  });
  form.addEventListener("change", (event) => {
    const group = event.target.closest("[data-criterion]");
    if (group) group.classList.remove("has-error");
  });
  form.addEventListener("submit", (event) => {
    if (sent) { event.preventDefault(); return; }
    if (missing().length) { event.preventDefault(); refuseIncomplete(); return; }
    sent = true;
    say("Saving…");
  });
  skipForm.addEventListener("submit", (event) => {
    if (sent) event.preventDefault();
    sent = true;
  });

  if (outlineToggle) {
    outlineToggle.addEventListener("change", () => {
      for (const outline of document.querySelectorAll(".review-pair .outline")) {
        outline.hidden = !outlineToggle.checked;
      }
    });
  }
})();
