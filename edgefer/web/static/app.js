"use strict";
// The demo page: send a photo to api/predict, draw each face's box and label on a canvas,
// list the seven probabilities per face. Classes and colours come from api/classes.
let CLASSES = [];
let COLORS = {};
let INK = {};
const $ = (id) => document.getElementById(id);
let limits = null;

fetch("api/classes").then((r) => r.json()).then((c) => {
  CLASSES = c.classes;
  COLORS = c.colors;
  INK = c.ink;
}).catch(() => {});

fetch("api/health").then((r) => r.json()).then((h) => {
  $("model").textContent = h.model;
  limits = h.limits;
  const select = $("role");
  const roles = h.roles || {};
  for (const option of select.options) {
    if (roles[option.value]) option.textContent = `${option.value} (${roles[option.value]})`;
  }
  const served = Object.keys(roles).find((r) => roles[r] === h.model);
  if (served) {
    select.value = served;
  } else {
    // The server runs a model of its own: offer it first, then the three roles.
    const own = document.createElement("option");
    own.value = "";
    own.textContent = `served (${h.model})`;
    select.prepend(own);
    select.value = "";
  }
}).catch(() => {});

function setStatus(text, error) {
  $("status").textContent = text;
  $("status").classList.toggle("error", !!error);
}

function detailText(detail) {
  if (Array.isArray(detail)) return detail.map((d) => d.msg || JSON.stringify(d)).join("; ");
  return typeof detail === "string" ? detail : "";
}

async function bitmap(blob) {
  try { return await createImageBitmap(blob); } catch (e) { return null; }
}

async function send(blob, name) {
  $("faces").replaceChildren();
  $("canvas").hidden = true;
  if (limits && blob.size > limits.max_upload_bytes) {
    setStatus(`${name} is ${blob.size.toLocaleString()} bytes, over the limit of ` +
              `${limits.max_upload_bytes.toLocaleString()} bytes.`, true);
    return;
  }
  setStatus(`Recognizing ${name}\u2026`);
  const image = bitmap(blob);
  const form = new FormData();
  form.append("file", blob, name);
  if ($("role").value) form.append("model", $("role").value);
  let response, body;
  try {
    response = await fetch("api/predict", { method: "POST", body: form });
    body = await response.json().catch(() => ({}));
  } catch (e) {
    setStatus(`Could not reach the server: ${e.message}`, true);
    return;
  }
  if (!response.ok) {
    const wait = response.headers.get("Retry-After");
    setStatus(`${response.status} ${response.statusText}: ${detailText(body.detail)}` +
              (wait ? ` (try again in ${wait} s)` : ""), true);
    return;
  }
  draw(await image, body);
  list(body);
  const n = body.faces.length;
  setStatus(`${name}: ${n === 0 ? "no face" : n === 1 ? "1 face" : n + " faces"} ` +
            `(${body.width}\u00d7${body.height}, ${body.elapsed_ms} ms, model ${body.model})`);
}

function overlaps(a, b) {
  return a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;
}

// Where each face's label goes: the first of above, below, inside, left or right of its box
// that overlaps no label placed before; failing that the face's number alone ("#3", as in the
// list), tried the same way and then further up and down; as a last resort above the box.
function placeLabels(ctx, faces, width, height, size) {
  const th = Math.round(size * 1.35), pad = size * 0.3;
  const placed = [];
  const inside = (r) => ({ ...r, x: Math.min(Math.max(0, r.x), Math.max(0, width - r.w)),
                           y: Math.min(Math.max(0, r.y), Math.max(0, height - r.h)) });
  faces.forEach((face, i) => {
    const [x, y, w, h] = face.box;
    const long = `${faces.length > 1 ? "#" + (i + 1) + " " : ""}${face.label} ${Math.round(face.confidence * 100)}%`;
    const texts = faces.length > 1 ? [long, `#${i + 1}`] : [long];
    let spot = null;
    for (const text of texts) {
      const tw = Math.ceil(ctx.measureText(text).width + 2 * pad);
      const tries = [[x, y - th], [x, y + h], [x, y], [x - tw, y], [x + w, y]];
      for (let k = 1; k <= 8; k++) tries.push([x, y - th * (k + 1)], [x, y + h + th * k]);
      for (const [tx, ty] of tries) {
        const r = inside({ x: tx, y: ty, w: tw, h: th });
        if (!placed.some((p) => overlaps(p, r))) { spot = { ...r, text }; break; }
      }
      if (spot) break;
    }
    if (!spot) {
      const text = texts[texts.length - 1];
      const tw = Math.ceil(ctx.measureText(text).width + 2 * pad);
      spot = { ...inside({ x, y: y - th, w: tw, h: th }), text };
    }
    spot.face = i;
    placed.push(spot);
  });
  return placed;
}

function draw(image, result) {
  const canvas = $("canvas"), ctx = canvas.getContext("2d");
  canvas.width = result.width;
  canvas.height = result.height;
  canvas.hidden = false;
  if (image) {
    ctx.drawImage(image, 0, 0, result.width, result.height);
  } else {
    ctx.fillStyle = "#888";
    ctx.fillRect(0, 0, canvas.width, canvas.height);
    ctx.fillStyle = "#fff";
    ctx.font = `${Math.max(14, result.width / 30)}px sans-serif`;
    ctx.fillText("(this browser cannot show the image)", 10, Math.max(24, result.width / 20));
  }
  const side = Math.max(result.width, result.height);
  // canvas pixels per screen pixel, as the page shows the canvas
  const shown = canvas.getBoundingClientRect().width || result.width;
  const perScreen = Math.max(1, result.width / shown);
  const line = Math.max(2, Math.round(side / 250));
  // readable: at least 12 screen pixels; no larger than a face needs on a busy photo
  const small = Math.min(...result.faces.map((f) => Math.min(f.box[2], f.box[3])), Infinity);
  const size = Math.round(Math.max(12 * perScreen, Math.min(Math.max(12, side / 32), small * 0.3)));
  ctx.font = `600 ${size}px system-ui, sans-serif`;
  ctx.textBaseline = "top";
  ctx.lineWidth = line;
  result.faces.forEach((face) => {
    const [x, y, w, h] = face.box;
    ctx.strokeStyle = COLORS[face.label] || "#0f0";
    ctx.strokeRect(x + line / 2, y + line / 2, w - line, h - line);
  });
  const labels = placeLabels(ctx, result.faces, result.width, result.height, size);
  for (const spot of labels) {
    const face = result.faces[spot.face];
    ctx.fillStyle = COLORS[face.label] || "#0f0";
    ctx.fillRect(spot.x, spot.y, spot.w, spot.h);
    ctx.fillStyle = INK[face.label] || "#000";
    ctx.fillText(spot.text, spot.x + size * 0.3, spot.y + size * 0.18);
  }
  // for tests and tools: where each label went, in canvas pixels
  canvas.dataset.labels = JSON.stringify(labels.map((s) => [s.x, s.y, s.w, s.h, s.text]));
  canvas.dataset.fontSize = String(size / perScreen);
}

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

function list(result) {
  const box = $("faces");
  box.replaceChildren(el("h2", "", "Faces"));
  if (result.faces.length === 0) {
    box.append(el("p", "empty", "No face found. The detector looks for upright, frontal, well-lit faces."));
    return;
  }
  result.faces.forEach((face, i) => {
    const card = el("section", "face");
    card.dataset.label = face.label;
    const title = el("h3");
    const swatch = el("span", "swatch");
    swatch.style.background = COLORS[face.label] || "#0f0";
    title.append(swatch, `Face ${i + 1}: `, el("span", "label", face.label),
                 ` ${Math.round(face.confidence * 100)}%`);
    card.append(title);
    for (const name of CLASSES) {
      const p = face.probabilities[name] || 0;
      const row = el("div", name === face.label ? "row top" : "row");
      const bar = el("div", "bar");
      bar.setAttribute("role", "progressbar");
      bar.setAttribute("aria-label", name);
      bar.setAttribute("aria-valuemin", "0");
      bar.setAttribute("aria-valuemax", "100");
      bar.setAttribute("aria-valuenow", (p * 100).toFixed(1));
      const fill = el("div", "fill");
      fill.style.width = `${(p * 100).toFixed(1)}%`;
      fill.style.background = COLORS[name] || "#888";
      bar.append(fill);
      row.append(el("span", "name", name), bar, el("span", "pct", `${(p * 100).toFixed(1)}%`));
      card.append(row);
    }
    box.append(card);
  });
}

$("file").addEventListener("change", (e) => {
  const f = e.target.files[0];
  if (f) send(f, f.name);
  e.target.value = "";
});

const drop = $("drop");
["dragenter", "dragover"].forEach((t) => drop.addEventListener(t, (e) => {
  e.preventDefault(); drop.classList.add("over");
}));
["dragleave", "drop"].forEach((t) => drop.addEventListener(t, (e) => {
  e.preventDefault(); drop.classList.remove("over");
}));
drop.addEventListener("drop", (e) => {
  const f = e.dataTransfer.files[0];
  if (f) send(f, f.name);
});
document.addEventListener("paste", (e) => {
  const f = [...(e.clipboardData ? e.clipboardData.files : [])][0];
  if (f) send(f, f.name || "pasted image");
});

let stream = null;
if (navigator.mediaDevices && navigator.mediaDevices.getUserMedia) {
  $("cam-start").hidden = false;
  $("cam-start").addEventListener("click", async () => {
    try {
      stream = await navigator.mediaDevices.getUserMedia({ video: true, audio: false });
    } catch (e) {
      setStatus(`Camera not available: ${e.message}`, true);
      return;
    }
    $("video").srcObject = stream;
    $("camera").hidden = false;
    $("cam-start").hidden = true;
  });
  $("cam-stop").addEventListener("click", () => {
    if (stream) stream.getTracks().forEach((t) => t.stop());
    stream = null;
    $("camera").hidden = true;
    $("cam-start").hidden = false;
  });
  $("cam-snap").addEventListener("click", () => {
    const v = $("video");
    if (!v.videoWidth) return;
    const c = document.createElement("canvas");
    c.width = v.videoWidth;
    c.height = v.videoHeight;
    c.getContext("2d").drawImage(v, 0, 0);
    c.toBlob((b) => b && send(b, "snapshot.jpg"), "image/jpeg", 0.92);
  });
}
