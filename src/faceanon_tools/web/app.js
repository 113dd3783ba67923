// faceanon demo page. Plain JavaScript, no dependencies, no network access beyond this page's own server.
// Sends the chosen photo to POST anonymise (the same API contract as the deployed API Gateway endpoint),
// with return_boxes, and shows before/after, the faces found, the time taken and errors in plain words.
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  const el = {
    file: $("file"), dropzone: $("dropzone"), sample: $("sample"), settings: $("settings"),
    maskScale: $("mask_scale"), maskScaleValue: $("mask_scale-value"),
    threshold: $("threshold"), thresholdValue: $("threshold-value"), showBoxes: $("show-boxes"),
    result: $("result"), status: $("status"), stats: $("stats"), faceCount: $("face-count"),
    timing: $("timing"), outputInfo: $("output-info"), download: $("download"),
    error: $("error"), errorTitle: $("error-title"), errorDetail: $("error-detail"), review: $("review"),
    before: $("before"), after: $("after"), beforeBoxes: $("before-boxes"), afterBoxes: $("after-boxes"),
    beforePlaceholder: $("before-placeholder"), afterPlaceholder: $("after-placeholder"),
  };

  const FORMATS = "Try a JPEG, PNG, WebP, GIF, TIFF, BMP, AVIF or HEIC photo.";
  const PLAIN_ERRORS = {
    unsupported_media_type: ["That file is not an image we can read.", FORMATS],
    payload_too_large: ["That photo is too big to send through the API.",
      "The API takes photos up to about 4 MB; larger ones go through the upload bucket."],
    image_too_large: ["That photo has too many pixels for us to process.", null],
    bad_request: ["The request was not accepted.", null],
    internal: ["Something went wrong while anonymising this photo.", "Please try again in a moment."],
  };
  const REVIEW_REASONS = {
    low_score: "a face was found with low confidence, so faces near it may have been missed",
    crowded: "there are many faces, and small ones are easy to miss",
  };
  const EXTENSIONS = {
    "image/jpeg": "jpg", "image/png": "png", "image/webp": "webp", "image/gif": "gif", "image/tiff": "tiff",
    "image/bmp": "bmp", "image/avif": "avif", "image/heic": "heic", "image/heif": "heif",
  };

  const state = { file: null, beforeUrl: null, afterUrl: null, boxes: [], sequence: 0, timer: 0 };

  // ---------------------------------------------------------------- helpers

  function readAsBase64(file) {
    return new Promise((resolve, reject) => {
      const reader = new FileReader();
      reader.onload = () => resolve(String(reader.result).slice(String(reader.result).indexOf(",") + 1));
      reader.onerror = () => reject(reader.error);
      reader.readAsDataURL(file);
    });
  }

  function base64ToBlob(data, type) {
    const binary = atob(data);
    const bytes = new Uint8Array(binary.length);
    for (let i = 0; i < binary.length; i += 1) bytes[i] = binary.charCodeAt(i);
    return new Blob([bytes], { type });
  }

  function settings() {
    const form = new FormData(el.settings);
    return {
      method: form.get("method"),
      shape: form.get("shape"),
      mask_scale: Number(el.maskScale.value),
      threshold: Number(el.threshold.value),
    };
  }

  function formatMs(ms) {
    return ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${Math.round(ms)} ms`;
  }

  function formatBytes(n) {
    if (n >= 1024 * 1024) return `${(n / 1024 / 1024).toFixed(1)} MB`;
    return `${Math.max(1, Math.round(n / 1024))} KB`;
  }

  function serverMs(response) {
    const timing = response.headers.get("Server-Timing") || "";
    const match = /handler;dur=([\d.]+)/.exec(timing);
    return match ? Number(match[1]) : null;
  }

  function outputName(file, contentType) {
    const name = file.name || "photo";
    const dot = name.lastIndexOf(".");
    const stem = dot > 0 ? name.slice(0, dot) : name;
    const ext = dot > 0 ? name.slice(dot + 1) : EXTENSIONS[contentType] || "img";
    return `${stem}_anonymised.${ext}`;
  }

  function setUrl(key, blob) {
    if (state[key]) URL.revokeObjectURL(state[key]);
    state[key] = blob ? URL.createObjectURL(blob) : null;
    return state[key];
  }

  // ---------------------------------------------------------------- rendering

  function setState(name) {
    el.result.dataset.state = name;
    if (name === "done" || name === "error") el.result.dataset.completed = String(state.sequence);
    el.result.setAttribute("aria-busy", String(name === "busy"));
  }

  function showError(title, detail) {
    setState("error");
    el.errorTitle.textContent = title;
    el.errorDetail.textContent = detail || "";
    el.errorDetail.hidden = !detail;
    el.error.hidden = false;
    el.status.textContent = "Nothing was anonymised.";
    el.stats.hidden = true;
    el.review.hidden = true;
    el.download.hidden = true;
    showImage(el.after, el.afterPlaceholder, null);
    state.boxes = [];
    drawBoxes();
  }

  function plainError(status, payload) {
    const code = payload && typeof payload.error === "string" ? payload.error : null;
    const message = payload && typeof payload.message === "string" ? payload.message : "";
    if (code && PLAIN_ERRORS[code]) {
      const [title, hint] = PLAIN_ERRORS[code];
      // The API's own message is written for clients; an internal error's is not useful to a person.
      return [title, code !== "internal" && message ? `${capitalise(message)}.` : hint];
    }
    if (status === 504) return ["That took too long.", "The server gave up after its time limit. Try a smaller photo."];
    if (status === 413) return PLAIN_ERRORS.payload_too_large;
    return [PLAIN_ERRORS.internal[0], `The server answered ${status}. Please try again.`];
  }

  function capitalise(text) {
    const trimmed = text.replace(/\.$/, "");
    return trimmed.charAt(0).toUpperCase() + trimmed.slice(1);
  }

  function showImage(img, placeholder, url) {
    if (url) {
      img.src = url;
      img.hidden = false;
      placeholder.hidden = true;
    } else {
      img.removeAttribute("src");
      img.hidden = true;
      placeholder.hidden = false;
    }
  }

  function drawBoxesOn(svg, img) {
    svg.replaceChildren();
    const visible = el.showBoxes.checked && !img.hidden && img.naturalWidth > 0 && state.boxes.length > 0;
    svg.style.display = visible ? "block" : "none";
    if (!visible) return;
    const width = img.clientWidth;
    const height = img.clientHeight;
    const sx = width / img.naturalWidth;
    const sy = height / img.naturalHeight;
    Object.assign(svg.style, {
      left: `${img.offsetLeft}px`, top: `${img.offsetTop}px`, width: `${width}px`, height: `${height}px`,
    });
    svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
    const ns = "http://www.w3.org/2000/svg";
    const tags = state.boxes.length <= 12; // score tags would hide a crowd; a tooltip keeps the score there
    for (const face of state.boxes) {
      if (face.frame) continue; // an animation shows boxes of its first frame only
      const [x1, y1, x2, y2] = face.box;
      const rect = document.createElementNS(ns, "rect");
      rect.setAttribute("x", x1 * sx);
      rect.setAttribute("y", y1 * sy);
      rect.setAttribute("width", Math.max(1, (x2 - x1) * sx));
      rect.setAttribute("height", Math.max(1, (y2 - y1) * sy));
      rect.setAttribute("stroke-width", (x2 - x1) * sx < 24 ? "1.5" : "2");
      const label = `${Math.round(face.score * 100)}%`;
      const title = document.createElementNS(ns, "title");
      title.textContent = `Face, score ${label}`;
      rect.append(title);
      svg.append(rect);
      if (!tags || (x2 - x1) * sx < 36) continue;
      const tagY = Math.max(0, y1 * sy - 18);
      const tag = document.createElementNS(ns, "rect");
      tag.setAttribute("class", "tag");
      tag.setAttribute("x", x1 * sx);
      tag.setAttribute("y", tagY);
      tag.setAttribute("width", 8 * label.length + 8);
      tag.setAttribute("height", 18);
      tag.setAttribute("rx", 3);
      svg.append(tag);
      const text = document.createElementNS(ns, "text");
      text.setAttribute("x", x1 * sx + 4);
      text.setAttribute("y", tagY + 13);
      text.textContent = label;
      svg.append(text);
    }
  }

  function drawBoxes() {
    drawBoxesOn(el.beforeBoxes, el.before);
    drawBoxesOn(el.afterBoxes, el.after);
  }

  function showResult(payload, file, totalMs, handlerMs) {
    const blob = base64ToBlob(payload.image, payload.content_type);
    showImage(el.after, el.afterPlaceholder, setUrl("afterUrl", blob));
    state.boxes = Array.isArray(payload.boxes) ? payload.boxes : [];
    const faces = payload.faces;
    el.faceCount.textContent = String(faces);
    el.timing.textContent = handlerMs === null ? formatMs(totalMs) : formatMs(handlerMs);
    el.timing.title = handlerMs === null
      ? "Round trip from this page"
      : `Anonymising on the server; ${formatMs(totalMs)} round trip from this page`;
    el.outputInfo.textContent = `${(EXTENSIONS[payload.content_type] || "image").toUpperCase()} · ${formatBytes(blob.size)}`;
    el.stats.hidden = false;
    el.error.hidden = true;
    el.status.textContent = faces === 0
      ? "No faces found, so nothing was masked."
      : `${faces} ${faces === 1 ? "face" : "faces"} masked.`;
    const reasons = (payload.review_reasons || []).map((r) => REVIEW_REASONS[r]).filter(Boolean);
    el.review.hidden = !payload.review;
    el.review.textContent = payload.review
      ? `Worth a second look: ${reasons.length ? reasons.join("; ") : "the detector was unsure"}.`
      : "";
    el.download.href = state.afterUrl;
    el.download.download = outputName(file, payload.content_type);
    el.download.hidden = false;
    setState("done");
    if (el.after.complete) drawBoxes();
  }

  // ---------------------------------------------------------------- the request

  async function run() {
    const file = state.file;
    if (!file) return;
    const sequence = ++state.sequence;
    setState("busy");
    el.status.textContent = "Anonymising…";
    const started = performance.now();
    let response;
    let payload = null;
    try {
      const image = await readAsBase64(file);
      response = await fetch("anonymise", {
        method: "POST",
        headers: { "Content-Type": "application/json", Accept: "application/json" },
        body: JSON.stringify({ image, ...settings(), return_boxes: true }),
      });
      payload = await response.json().catch(() => null);
    } catch (error) {
      if (sequence === state.sequence) {
        showError("Could not reach the faceanon server.", "Is `faceanon serve` still running? Reload the page after restarting it.");
      }
      return;
    }
    if (sequence !== state.sequence) return; // a newer request is on its way
    const totalMs = performance.now() - started;
    if (!response.ok || !payload || typeof payload.image !== "string") {
      const [title, detail] = plainError(response.status, payload);
      showError(title, detail);
      return;
    }
    showResult(payload, file, totalMs, serverMs(response));
  }

  function schedule(delay) {
    clearTimeout(state.timer);
    state.timer = setTimeout(run, delay);
  }

  function choose(file) {
    if (!file) return;
    state.file = file;
    el.error.hidden = true;
    el.beforePlaceholder.textContent = "Your photo";
    el.afterPlaceholder.textContent = "The anonymised photo";
    showImage(el.before, el.beforePlaceholder, setUrl("beforeUrl", file));
    showImage(el.after, el.afterPlaceholder, null);
    state.boxes = [];
    drawBoxes();
    schedule(0);
  }

  // ---------------------------------------------------------------- events

  el.file.addEventListener("change", () => {
    choose(el.file.files && el.file.files[0]);
    el.file.value = ""; // choosing the same file again still triggers a run
  });

  el.sample.addEventListener("click", async () => {
    try {
      const response = await fetch("sample.jpg");
      if (!response.ok) throw new Error(String(response.status));
      choose(new File([await response.blob()], "astronaut.jpg", { type: "image/jpeg" }));
    } catch (error) {
      showError("Could not load the sample photo.", "Is `faceanon serve` still running?");
    }
  });

  let dragDepth = 0;
  window.addEventListener("dragenter", (event) => {
    event.preventDefault();
    dragDepth += 1;
    el.dropzone.classList.add("dragging");
  });
  window.addEventListener("dragleave", () => {
    dragDepth = Math.max(0, dragDepth - 1);
    if (dragDepth === 0) el.dropzone.classList.remove("dragging");
  });
  window.addEventListener("dragover", (event) => event.preventDefault());
  window.addEventListener("drop", (event) => {
    event.preventDefault();
    dragDepth = 0;
    el.dropzone.classList.remove("dragging");
    const files = event.dataTransfer && event.dataTransfer.files;
    if (files && files.length) choose(files[0]);
  });

  el.maskScale.addEventListener("input", () => {
    el.maskScaleValue.textContent = `${Number(el.maskScale.value).toFixed(1)}×`;
  });
  el.threshold.addEventListener("input", () => {
    el.thresholdValue.textContent = Number(el.threshold.value).toFixed(2);
  });
  el.settings.addEventListener("change", (event) => {
    if (event.target !== el.showBoxes && state.file) schedule(150);
  });
  el.settings.addEventListener("submit", (event) => event.preventDefault());
  el.showBoxes.addEventListener("change", drawBoxes);

  el.before.addEventListener("load", drawBoxes);
  el.after.addEventListener("load", drawBoxes);
  el.before.addEventListener("error", () => {
    // Not every browser can preview every format (HEIC, TIFF); the server may still read it.
    el.before.hidden = true;
    el.beforePlaceholder.hidden = false;
    el.beforePlaceholder.textContent = "No preview available";
  });
  el.after.addEventListener("error", () => {
    el.after.hidden = true;
    el.afterPlaceholder.hidden = false;
    el.afterPlaceholder.textContent = "No preview in this browser; the download works";
  });
  new ResizeObserver(drawBoxes).observe(el.result);
})();
