// Damage editor: paints a mask of the motif's exact size over the motif and saves it as a PNG.
// The mask lives in a canvas of the motif's pixel size; the view (zoom and pan) is a CSS
// transform, so every stroke lands on motif pixels whatever the zoom.
(function () {
  "use strict";

  const config = JSON.parse(document.getElementById("editor-config").textContent);
  const W = config.width;
  const H = config.height;
  const DAMAGE = [230, 40, 40];
  const REGION = [255, 200, 0];

  const stage = document.getElementById("editor-stage");
  const view = document.getElementById("editor-view");
  const photo = document.getElementById("editor-image");
  const maskCanvas = document.getElementById("mask-canvas");
  const overlay = document.getElementById("overlay-canvas");
  const status = document.getElementById("editor-status");
  const maskCtx = maskCanvas.getContext("2d", { willReadFrequently: true });
  const overlayCtx = overlay.getContext("2d");
  for (const canvas of [maskCanvas, overlay]) {
    canvas.width = W;
    canvas.height = H;
  }

  const state = {
    tool: "brush",
    mode: "add",
    brush: Number(document.getElementById("brush-size").value),
    scale: 1,
    tx: 0,
    ty: 0,
    drawing: false,
    panning: null,
    spaceDown: false,
    last: null,
    polygon: [],
    clicks: { positive: [], negative: [] },
    region: null,
    dirty: false,
    usedDrawing: false,
    usedSegment: false,
    usedImport: false,
    annotationId: config.annotationId,
  };

  // Undo history holds whole-mask snapshots; cap it by memory so huge murals stay usable.
  const undoLimit = Math.max(5, Math.min(50, Math.floor(400e6 / (W * H * 4))));
  const undoStack = [];
  const redoStack = [];

  function setStatus(text, kind) {
    status.textContent = text;
    status.dataset.kind = kind || "info";
  }

  // ---- view transform -------------------------------------------------------------------
  function applyView() {
    view.style.transform = `translate(${state.tx}px, ${state.ty}px) scale(${state.scale})`;
    document.getElementById("zoom-level").textContent = `${Math.round(state.scale * 100)}%`;
    drawOverlay();
  }

  function fit() {
    const rect = stage.getBoundingClientRect();
    state.scale = Math.min(rect.width / W, rect.height / H);
    state.tx = (rect.width - W * state.scale) / 2;
    state.ty = (rect.height - H * state.scale) / 2;
    applyView();
  }

  function zoomAt(factor, cx, cy) {
    const next = Math.min(32, Math.max(0.02, state.scale * factor));
    const k = next / state.scale;
    state.tx = cx - (cx - state.tx) * k;
    state.ty = cy - (cy - state.ty) * k;
    state.scale = next;
    applyView();
  }

  function toImage(event) {
    const rect = stage.getBoundingClientRect();
    return {
      x: (event.clientX - rect.left - state.tx) / state.scale,
      y: (event.clientY - rect.top - state.ty) / state.scale,
    };
  }

  function imageToClient(x, y) {
    const rect = stage.getBoundingClientRect();
    return { x: rect.left + state.tx + x * state.scale, y: rect.top + state.ty + y * state.scale };
  }

  // ---- history ----------------------------------------------------------------------------
  function snapshot() {
    undoStack.push(maskCtx.getImageData(0, 0, W, H));
    if (undoStack.length > undoLimit) undoStack.shift();
    redoStack.length = 0;
    updateHistoryButtons();
  }

  function undo() {
    if (!undoStack.length) return;
    redoStack.push(maskCtx.getImageData(0, 0, W, H));
    maskCtx.putImageData(undoStack.pop(), 0, 0);
    markDirty();
  }

  function redo() {
    if (!redoStack.length) return;
    undoStack.push(maskCtx.getImageData(0, 0, W, H));
    maskCtx.putImageData(redoStack.pop(), 0, 0);
    markDirty();
  }

  function updateHistoryButtons() {
    document.getElementById("undo").disabled = !undoStack.length;
    document.getElementById("redo").disabled = !redoStack.length;
  }

  function markDirty() {
    state.dirty = true;
    updateHistoryButtons();
  }

  // ---- painting ---------------------------------------------------------------------------
  function paintColour() {
    return `rgb(${DAMAGE.join(",")})`;
  }

  function strokeTo(point) {
    maskCtx.save();
    maskCtx.globalCompositeOperation = state.tool === "eraser" ? "destination-out" : "source-over";
    maskCtx.strokeStyle = paintColour();
    maskCtx.fillStyle = paintColour();
    maskCtx.lineWidth = state.brush;
    maskCtx.lineCap = "round";
    maskCtx.lineJoin = "round";
    maskCtx.beginPath();
    if (state.last) {
      maskCtx.moveTo(state.last.x, state.last.y);
      maskCtx.lineTo(point.x, point.y);
      maskCtx.stroke();
    } else {
      maskCtx.arc(point.x, point.y, state.brush / 2, 0, Math.PI * 2);
      maskCtx.fill();
    }
    maskCtx.restore();
    state.last = point;
  }

  function fillPolygon(points) {
    snapshot();
    maskCtx.save();
    maskCtx.globalCompositeOperation = state.mode === "add" ? "source-over" : "destination-out";
    maskCtx.fillStyle = paintColour();
    maskCtx.beginPath();
    points.forEach((p, i) => (i ? maskCtx.lineTo(p.x, p.y) : maskCtx.moveTo(p.x, p.y)));
    maskCtx.closePath();
    maskCtx.fill();
    maskCtx.restore();
    state.usedDrawing = true;
    markDirty();
  }

  function closePolygon() {
    if (state.polygon.length >= 3) fillPolygon(state.polygon);
    state.polygon = [];
    drawOverlay();
  }

  // ---- overlay: polygon in progress, brush cursor, segmented region preview ---------------
  let cursor = null;
  function drawOverlay() {
    overlayCtx.clearRect(0, 0, W, H);
    if (state.region) overlayCtx.drawImage(state.region, 0, 0);
    const px = 1 / state.scale;
    if (state.polygon.length) {
      overlayCtx.strokeStyle = "#ffd400";
      overlayCtx.lineWidth = 2 * px;
      overlayCtx.beginPath();
      state.polygon.forEach((p, i) => (i ? overlayCtx.lineTo(p.x, p.y) : overlayCtx.moveTo(p.x, p.y)));
      if (cursor) overlayCtx.lineTo(cursor.x, cursor.y);
      overlayCtx.stroke();
      for (const p of state.polygon) {
        overlayCtx.fillStyle = "#ffd400";
        overlayCtx.fillRect(p.x - 3 * px, p.y - 3 * px, 6 * px, 6 * px);
      }
    }
    for (const [list, colour] of [[state.clicks.positive, "#2ecc71"], [state.clicks.negative, "#e74c3c"]]) {
      for (const [x, y] of list) {
        overlayCtx.fillStyle = colour;
        overlayCtx.beginPath();
        overlayCtx.arc(x, y, 6 * px, 0, Math.PI * 2);
        overlayCtx.fill();
      }
    }
    if (cursor && (state.tool === "brush" || state.tool === "eraser")) {
      overlayCtx.strokeStyle = state.tool === "brush" ? "#ffffff" : "#00d0ff";
      overlayCtx.lineWidth = px;
      overlayCtx.beginPath();
      overlayCtx.arc(cursor.x, cursor.y, state.brush / 2, 0, Math.PI * 2);
      overlayCtx.stroke();
    }
  }

  // ---- click-to-segment ----------------------------------------------------------------------
  async function requestRegion() {
    setStatus("Growing the region…");
    const response = await fetch(config.segmentUrl, {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken() },
      body: JSON.stringify({
        positive: state.clicks.positive,
        negative: state.clicks.negative,
        tolerance: Number(document.getElementById("tolerance").value),
      }),
    });
    if (!response.ok) {
      const error = await response.json().catch(() => ({ error: response.statusText }));
      setStatus(error.error, "error");
      return;
    }
    const bitmap = await createImageBitmap(await response.blob());
    state.region = colourise(bitmap, REGION, 160);
    drawOverlay();
    setStatus("Region ready: Enter or “Apply region” adds it (subtracts in subtract mode); Esc discards.");
  }

  function colourise(source, rgb, alpha) {
    const canvas = document.createElement("canvas");
    canvas.width = W;
    canvas.height = H;
    const ctx = canvas.getContext("2d", { willReadFrequently: true });
    ctx.drawImage(source, 0, 0, W, H);
    const data = ctx.getImageData(0, 0, W, H);
    const px = data.data;
    for (let i = 0; i < px.length; i += 4) {
      const on = px[i] > 127;
      px[i] = rgb[0];
      px[i + 1] = rgb[1];
      px[i + 2] = rgb[2];
      px[i + 3] = on ? alpha : 0;
    }
    ctx.putImageData(data, 0, 0);
    return canvas;
  }

  function applyRegion() {
    if (!state.region) return;
    snapshot();
    const solid = recolour(state.region, DAMAGE);
    maskCtx.save();
    maskCtx.globalCompositeOperation = state.mode === "add" ? "source-over" : "destination-out";
    maskCtx.drawImage(solid, 0, 0);
    maskCtx.restore();
    state.usedSegment = true;
    discardRegion();
    markDirty();
    setStatus("Region applied.");
  }

  function recolour(canvas, rgb) {
    const ctx = canvas.getContext("2d", { willReadFrequently: true });
    const data = ctx.getImageData(0, 0, W, H);
    const px = data.data;
    for (let i = 0; i < px.length; i += 4) {
      px[i] = rgb[0];
      px[i + 1] = rgb[1];
      px[i + 2] = rgb[2];
      px[i + 3] = px[i + 3] > 0 ? 255 : 0;
    }
    ctx.putImageData(data, 0, 0);
    return canvas;
  }

  function discardRegion() {
    state.region = null;
    state.clicks = { positive: [], negative: [] };
    drawOverlay();
  }

  // ---- pointer handling ------------------------------------------------------------------------
  stage.addEventListener("pointerdown", (event) => {
    stage.setPointerCapture(event.pointerId);
    if (event.button === 1 || state.tool === "pan" || state.spaceDown) {
      state.panning = { x: event.clientX - state.tx, y: event.clientY - state.ty };
      return;
    }
    if (event.button !== 0) return;
    const point = toImage(event);
    if (state.tool === "brush" || state.tool === "eraser") {
      snapshot();
      state.drawing = true;
      state.last = null;
      strokeTo(point);
    } else if (state.tool === "polygon") {
      const first = state.polygon[0];
      if (first && Math.hypot(first.x - point.x, first.y - point.y) * state.scale < 8 && state.polygon.length >= 3) {
        closePolygon();
      } else {
        state.polygon.push(point);
        drawOverlay();
      }
    } else if (state.tool === "segment") {
      const list = event.shiftKey || event.altKey ? state.clicks.negative : state.clicks.positive;
      if (state.clicks.positive.length + state.clicks.negative.length >= 10) {
        setStatus("At most 10 clicks per region: apply or discard it first.", "error");
        return;
      }
      list.push([Math.round(point.x), Math.round(point.y)]);
      if (state.clicks.positive.length) requestRegion();
      drawOverlay();
    }
  });

  stage.addEventListener("pointermove", (event) => {
    if (state.panning) {
      state.tx = event.clientX - state.panning.x;
      state.ty = event.clientY - state.panning.y;
      applyView();
      return;
    }
    cursor = toImage(event);
    if (state.drawing) strokeTo(cursor);
    drawOverlay();
  });

  function endPointer() {
    if (state.drawing) {
      state.drawing = false;
      state.last = null;
      state.usedDrawing = true;
      markDirty();
    }
    state.panning = null;
  }
  stage.addEventListener("pointerup", endPointer);
  stage.addEventListener("pointercancel", endPointer);
  stage.addEventListener("pointerleave", () => {
    cursor = null;
    drawOverlay();
  });
  stage.addEventListener("dblclick", (event) => {
    if (state.tool !== "polygon") return;
    event.preventDefault();
    // The double click's own clicks added two points on the same spot: drop the duplicate.
    if (state.polygon.length > 3) state.polygon.pop();
    closePolygon();
  });
  stage.addEventListener("wheel", (event) => {
    event.preventDefault();
    const rect = stage.getBoundingClientRect();
    zoomAt(Math.exp(-event.deltaY * 0.0015), event.clientX - rect.left, event.clientY - rect.top);
  }, { passive: false });

  // ---- controls -------------------------------------------------------------------------------
  function selectTool(tool) {
    if (state.tool === "polygon" && tool !== "polygon") state.polygon = [];
    state.tool = tool;
    for (const button of document.querySelectorAll("[data-tool]")) {
      button.setAttribute("aria-pressed", String(button.dataset.tool === tool));
    }
    stage.dataset.tool = tool;
    const hints = {
      brush: "Brush: drag to mark damage. [ and ] change the size.",
      eraser: "Eraser: drag to unmark.",
      polygon: "Polygon: click the corners; double-click, Enter or click the first corner to close.",
      segment: "Click-to-segment: click 1-3 times inside a damaged patch (Shift-click excludes).",
      pan: "Pan: drag to move; the wheel zooms.",
    };
    setStatus(hints[tool]);
    drawOverlay();
  }

  function setMode(mode) {
    state.mode = mode;
    for (const button of document.querySelectorAll("[data-mode]")) {
      button.setAttribute("aria-pressed", String(button.dataset.mode === mode));
    }
  }

  function setBrush(size) {
    state.brush = Math.max(1, Math.min(400, size));
    document.getElementById("brush-size").value = state.brush;
    document.getElementById("brush-size-value").textContent = `${state.brush}px`;
    drawOverlay();
  }

  for (const button of document.querySelectorAll("[data-tool]")) {
    button.addEventListener("click", () => selectTool(button.dataset.tool));
  }
  for (const button of document.querySelectorAll("[data-mode]")) {
    button.addEventListener("click", () => setMode(button.dataset.mode));
  }
  document.getElementById("brush-size").addEventListener("input", (e) => setBrush(Number(e.target.value)));
  const opacity = document.getElementById("opacity");
  const setOpacity = () => {
    maskCanvas.style.opacity = String(Number(opacity.value) / 100);
    document.getElementById("opacity-value").textContent = `${opacity.value}%`;
  };
  opacity.addEventListener("input", setOpacity);
  document.getElementById("undo").addEventListener("click", undo);
  document.getElementById("redo").addEventListener("click", redo);
  document.getElementById("zoom-in").addEventListener("click", () => zoomCentre(1.25));
  document.getElementById("zoom-out").addEventListener("click", () => zoomCentre(0.8));
  document.getElementById("zoom-fit").addEventListener("click", fit);
  document.getElementById("apply-region").addEventListener("click", applyRegion);
  document.getElementById("discard-region").addEventListener("click", discardRegion);
  document.getElementById("clear-mask").addEventListener("click", () => {
    snapshot();
    maskCtx.clearRect(0, 0, W, H);
    markDirty();
  });
  document.getElementById("save").addEventListener("click", save);

  function zoomCentre(factor) {
    const rect = stage.getBoundingClientRect();
    zoomAt(factor, rect.width / 2, rect.height / 2);
  }

  document.addEventListener("keydown", (event) => {
    if (event.target.closest("input, textarea, select")) return;
    const key = event.key.toLowerCase();
    if ((event.ctrlKey || event.metaKey) && key === "z") {
      event.preventDefault();
      event.shiftKey ? redo() : undo();
    } else if ((event.ctrlKey || event.metaKey) && key === "y") {
      event.preventDefault();
      redo();
    } else if ((event.ctrlKey || event.metaKey) && key === "s") {
      event.preventDefault();
      save();
    } else if (event.ctrlKey || event.metaKey || event.altKey) {
      return;
    } else if (key === " ") {
      state.spaceDown = true;
      event.preventDefault();
    } else if (key === "enter") {
      if (state.tool === "polygon") closePolygon();
      else if (state.region) applyRegion();
    } else if (key === "escape") {
      state.polygon = [];
      discardRegion();
    } else if ({ b: "brush", e: "eraser", p: "polygon", s: "segment", h: "pan" }[key]) {
      selectTool({ b: "brush", e: "eraser", p: "polygon", s: "segment", h: "pan" }[key]);
    } else if (key === "[") setBrush(state.brush - Math.max(1, Math.round(state.brush / 5)));
    else if (key === "]") setBrush(state.brush + Math.max(1, Math.round(state.brush / 5)));
    else if (key === "+" || key === "=") zoomCentre(1.25);
    else if (key === "-") zoomCentre(0.8);
    else if (key === "0") fit();
    else if (key === "x") setMode(state.mode === "add" ? "subtract" : "add");
  });
  document.addEventListener("keyup", (event) => {
    if (event.key === " ") state.spaceDown = false;
  });

  window.addEventListener("beforeunload", (event) => {
    if (state.dirty) event.preventDefault();
  });

  // ---- load and save ----------------------------------------------------------------------------
  function csrfToken() {
    return document.querySelector("[name=csrfmiddlewaretoken]").value;
  }

  function exportMask() {
    // White where damaged, black elsewhere: the stored format (DESIGN sec. 4).
    const data = maskCtx.getImageData(0, 0, W, H);
    const px = data.data;
    let damaged = 0;
    for (let i = 0; i < px.length; i += 4) {
      const value = px[i + 3] > 127 ? 255 : 0;
      damaged += value ? 1 : 0;
      px[i] = px[i + 1] = px[i + 2] = value;
      px[i + 3] = 255;
    }
    const canvas = document.createElement("canvas");
    canvas.width = W;
    canvas.height = H;
    canvas.getContext("2d").putImageData(data, 0, 0);
    return { canvas, damaged };
  }

  async function save() {
    const { canvas, damaged } = exportMask();
    if (!damaged) {
      setStatus("Nothing is marked yet: mark the damage before saving.", "error");
      return;
    }
    const button = document.getElementById("save");
    button.disabled = true;
    setStatus("Saving…");
    try {
      const blob = await new Promise((resolve) => canvas.toBlob(resolve, "image/png"));
      const form = new FormData();
      form.append("mask", blob, "mask.png");
      for (const box of document.querySelectorAll("input[name=kinds]:checked")) form.append("kinds", box.value);
      form.append("notes", document.getElementById("notes").value);
      form.append("method", saveMethod());
      if (state.annotationId) form.append("supersedes", state.annotationId);
      const response = await fetch(config.saveUrl, {
        method: "POST",
        headers: { "X-CSRFToken": csrfToken() },
        body: form,
      });
      const body = await response.json().catch(() => ({ error: `The server answered ${response.status}.` }));
      if (!response.ok) {
        setStatus(`Not saved: ${body.error}`, "error");
        return;
      }
      state.annotationId = body.id;
      state.dirty = false;
      history.replaceState(null, "", body.editUrl);
      // What is on screen is now this annotation: a further save revises it.
      document.getElementById("editor-subject").textContent = `revising annotation #${body.id}`;
      const pct = (body.coverage * 100).toFixed(body.coverage < 0.1 ? 1 : 0);
      setStatus(`Saved as annotation #${body.id} (${pct}% of the motif marked damaged).`, "success");
      document.getElementById("saved-link").hidden = false;
    } catch (error) {
      setStatus(`Not saved: ${error.message}. Your marks are still here; try again.`, "error");
    } finally {
      button.disabled = false;
    }
  }

  function saveMethod() {
    if (state.usedImport && !state.usedDrawing && !state.usedSegment) return "imported";
    return state.usedSegment && !state.usedDrawing ? "segmented" : "drawn";
  }

  // A mask file is read by the server as an import reads it (grey levels, transparency,
  // orientation) and comes back at the motif's size; it replaces the marks (undoable).
  async function openMaskFile(file) {
    setStatus(`Opening ${file.name}…`);
    const form = new FormData();
    form.append("mask", file);
    try {
      const response = await fetch(config.openUrl, {
        method: "POST",
        headers: { "X-CSRFToken": csrfToken() },
        body: form,
      });
      if (!response.ok) {
        const body = await response.json().catch(() => ({ error: `The server answered ${response.status}.` }));
        setStatus(`${file.name} was not opened: ${body.error}`, "error");
        return;
      }
      const resizedFrom = response.headers.get("X-Mask-Resized-From");
      const bitmap = await createImageBitmap(await response.blob());
      snapshot();
      maskCtx.clearRect(0, 0, W, H);
      maskCtx.drawImage(recolour(colourise(bitmap, DAMAGE, 255), DAMAGE), 0, 0);
      state.usedImport = true;
      markDirty();
      const how = resizedFrom
        ? `it was ${resizedFrom.replace("x", " × ")} px and was resized to the motif's ${W} × ${H} (nearest neighbour)`
        : `${W} × ${H} px`;
      setStatus(`Opened ${file.name} (${how}). Check it over the motif, then save.`, "success");
    } catch (error) {
      setStatus(`${file.name} was not opened: ${error.message}.`, "error");
    }
  }

  const maskFile = document.getElementById("mask-file");
  maskFile.addEventListener("change", async () => {
    const [file] = maskFile.files;
    if (!file) return;
    await openMaskFile(file);
    maskFile.value = ""; // the same file may be opened again
  });

  async function loadExistingMask() {
    if (!config.maskUrl) return;
    const response = await fetch(config.maskUrl);
    const bitmap = await createImageBitmap(await response.blob());
    maskCtx.drawImage(recolour(colourise(bitmap, DAMAGE, 255), DAMAGE), 0, 0);
  }

  window.damageEditor = { imageToClient, state, fit, exportMask };

  setBrush(state.brush);
  setOpacity();
  selectTool("brush");
  setMode("add");
  updateHistoryButtons();
  const ready = () => {
    fit();
    loadExistingMask().then(() => {
      stage.dataset.ready = "true";
    });
  };
  if (photo.complete) ready();
  else photo.addEventListener("load", ready, { once: true });
  window.addEventListener("resize", fit);
})();
