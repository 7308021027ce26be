// Upload page: drop (or choose) several photographs; each is posted to the catalogue API with
// the form's details, one after the other, and gets its own line: catalogued (with a link) or
// refused (with every reason). Without JavaScript the plain form uploads one file.
(function () {
  "use strict";
  const form = document.getElementById("upload-form");
  const zone = document.getElementById("drop-zone");
  const input = document.getElementById("drop-zone-input");
  const results = document.getElementById("upload-results");
  if (!form || !zone || !input || !results || !window.fetch || !window.FormData) return;
  zone.hidden = false;

  const csrf = form.querySelector("input[name=csrfmiddlewaretoken]").value;
  const labels = {};
  form.querySelectorAll("label[for]").forEach((label) => {
    const field = document.getElementById(label.htmlFor);
    if (field && field.name) labels[field.name] = label.textContent.trim();
  });

  function stem(name) {
    const dot = name.lastIndexOf(".");
    return (dot > 0 ? name.slice(0, dot) : name).replace(/[_-]+/g, " ").trim() || name;
  }

  function reasons(body) {
    if (!body || typeof body !== "object") return ["The server gave no reason."];
    const lines = [];
    for (const [field, messages] of Object.entries(body)) {
      const list = Array.isArray(messages) ? messages : [String(messages)];
      const prefix = field === "image" || field === "detail" || field === "non_field_errors"
        ? "" : `${labels[field] || field}: `;
      list.forEach((message) => lines.push(prefix + message));
    }
    return lines.length ? lines : ["The server gave no reason."];
  }

  function line(file) {
    const item = document.createElement("li");
    item.className = "upload-result pending";
    const name = document.createElement("strong");
    name.textContent = file.name;
    const status = document.createElement("span");
    status.textContent = " uploading…";
    item.append(name, status);
    results.append(item);
    results.hidden = false;
    return { item, status };
  }

  async function send(file, row) {
    const data = new FormData(form);
    data.delete("image");
    data.delete("held_image");
    data.delete("csrfmiddlewaretoken");
    if (!String(data.get("title") || "").trim()) data.set("title", stem(file.name));
    data.set("image", file, file.name);
    let response;
    let body = null;
    try {
      response = await fetch(form.dataset.api, {
        method: "POST",
        body: data,
        credentials: "same-origin",
        headers: { "X-CSRFToken": csrf, Accept: "application/json" },
      });
      body = await response.json().catch(() => null);
    } catch (error) {
      row.item.className = "upload-result refused";
      row.status.textContent = " refused: the server could not be reached.";
      return;
    }
    row.status.textContent = "";
    if (response.status === 201 && body) {
      row.item.className = "upload-result catalogued";
      const link = document.createElement("a");
      link.href = body.page;
      link.textContent = body.title;
      row.status.append(" catalogued as ", link);
      return;
    }
    row.item.className = "upload-result refused";
    row.status.append(" refused:");
    const list = document.createElement("ul");
    reasons(body).forEach((reason) => {
      const entry = document.createElement("li");
      entry.textContent = reason;
      list.append(entry);
    });
    row.item.append(list);
  }

  async function upload(files) {
    const rows = files.map((file) => [file, line(file)]);
    for (const [file, row] of rows) await send(file, row);
  }

  document.getElementById("drop-zone-choose").addEventListener("click", () => input.click());
  input.addEventListener("change", () => {
    upload(Array.from(input.files));
    input.value = "";
  });
  ["dragenter", "dragover"].forEach((type) =>
    zone.addEventListener(type, (event) => {
      event.preventDefault();
      zone.classList.add("dragging");
    })
  );
  zone.addEventListener("dragleave", () => zone.classList.remove("dragging"));
  zone.addEventListener("drop", (event) => {
    event.preventDefault();
    zone.classList.remove("dragging");
    const files = Array.from((event.dataTransfer && event.dataTransfer.files) || []);
    if (files.length) upload(files);
  });
})();
