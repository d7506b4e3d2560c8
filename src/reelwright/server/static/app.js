// The Agent Mode page: plan first, edit the storyboard (the total stays exact), make, follow the agent's steps
// live over SSE, play, regenerate one shot, edit, extend, download; the runs list and batches. No network but
// this server; every request goes through api() so a token (when the server has one) rides along.
"use strict";

const $ = (sel) => document.querySelector(sel);
const state = { mode: "create-video", plan: null, fps: 24, refs: [], runId: null, source: null, generators: [] };

function token() { return localStorage.getItem("reelwright-token") || ""; }

async function api(path, options = {}) {
  const headers = Object.assign({}, options.headers || {});
  if (token()) headers["Authorization"] = "Bearer " + token();
  if (options.json !== undefined) {
    headers["Content-Type"] = "application/json";
    options.body = JSON.stringify(options.json);
  }
  const res = await fetch(path, Object.assign({}, options, { headers }));
  if (res.status === 401) {
    $("#token-btn").hidden = false;
    throw new Error("this server needs its token (Token… at the top right)");
  }
  const body = (res.headers.get("content-type") || "").includes("json") ? await res.json() : await res.text();
  if (!res.ok) throw new Error((body && body.error && body.error.message) || res.statusText);
  return body;
}

// Links the browser follows by itself (EventSource, <video src>, downloads) cannot carry a header: they get a
// short-lived token in the query string instead of the server's token.
async function linkFor(path) {
  if (!token()) return path;
  const t = await api("/api/access-tokens", { method: "POST" });
  return path + (path.includes("?") ? "&" : "?") + "access_token=" + encodeURIComponent(t.token);
}

function say(text, bad = false) {
  const m = $("#message");
  m.textContent = text;
  m.className = bad ? "bad" : "";
}

function fraction(text) {
  const [n, d] = String(text).split("/").map(Number);
  return d ? n / d : n;
}

const secs = (frames) => frames / state.fps;
const fmt = (s) => (Math.round(s * 1000) / 1000).toString();

// ------------------------------------------------------------------ compose
function options() {
  const body = { prompt: $("#prompt").value.trim(), mode: state.mode, resolution: $("#resolution").value };
  if ($("#duration").value.trim()) body.duration = $("#duration").value.trim();
  if ($("#aspect").value) body.aspect = $("#aspect").value;
  if ($("#generator").value) body.generator = $("#generator").value;
  if ($("#llm").value.trim()) body.llm = $("#llm").value.trim();
  if ($("#budget").value) body.budget_usd = Number($("#budget").value);
  body.references = state.refs.map((r) => ({ upload_id: r.id, name: r.label || null }));
  return body;
}

async function uploadRef() {
  const file = $("#ref-file").files[0];
  if (!file) return;
  const form = new FormData();
  form.append("file", file);
  form.append("name", $("#ref-name").value.trim());
  try {
    const up = await api("/api/uploads", { method: "POST", body: form });
    up.label = $("#ref-name").value.trim();
    state.refs.push(up);
    const li = document.createElement("li");
    li.textContent = `${up.label || up.name} (${up.kind})`;
    $("#ref-list").appendChild(li);
    $("#ref-file").value = "";
    $("#ref-name").value = "";
  } catch (e) { say(e.message, true); }
}

async function planFirst() {
  say("Drafting prompts and structuring clips…");
  try {
    const view = await api("/api/plans", { method: "POST", json: options() });
    state.plan = view.plan;
    state.fps = fraction(view.plan.fps);
    say("");
    renderStoryboard();
  } catch (e) { say(e.message, true); }
}

// ------------------------------------------------------------------ storyboard (total kept exact)
function relayout() {
  let start = 0;
  for (const s of state.plan.shots) { s.start_frame = start; start += s.frames; }
}

function setLength(index, seconds) {
  const shots = state.plan.shots;
  const wanted = Math.max(1, Math.round(seconds * state.fps));
  const delta = wanted - shots[index].frames;
  const other = index + 1 < shots.length ? index + 1 : index - 1;
  if (other < 0) { say("a single shot is the whole video: change the duration and plan again", true); return; }
  if (shots[other].frames - delta < 1) { say(`shot ${other + 1} cannot give ${fmt(secs(delta))} s`, true); return; }
  shots[index].frames = wanted;
  shots[other].frames -= delta;  // the neighbour absorbs the change: the total does not move
  say("");
  relayout();
}

function renderStoryboard() {
  const plan = state.plan;
  $("#storyboard").hidden = false;
  const list = $("#shots");
  list.innerHTML = "";
  plan.shots.forEach((s, i) => {
    const li = document.createElement("li");
    li.className = "shot";
    li.dataset.id = s.id;
    const refs = plan.cast.entities.filter((e) => s.entities.includes(e.id) && e.references.length).map((e) => e.name);
    li.innerHTML = `
      <div class="shot-head"><b>${i + 1}</b> <span class="shot-time">${fmt(secs(s.start_frame))} s</span>
        <label>length <input class="shot-seconds" type="number" step="${fmt(1 / state.fps)}" min="${fmt(1 / state.fps)}" value="${fmt(secs(s.frames))}"> s</label>
        <span class="shot-camera"></span>
        <button class="up" title="earlier">↑</button><button class="down" title="later">↓</button>
        <button class="remove" title="remove">✕</button></div>
      <input class="shot-beat" value="">
      <textarea class="shot-prompt" rows="3"></textarea>
      <div class="shot-refs"></div>`;
    li.querySelector(".shot-camera").textContent = s.camera;
    li.querySelector(".shot-beat").value = s.beat;
    li.querySelector(".shot-prompt").value = s.prompt;
    li.querySelector(".shot-refs").textContent = refs.length ? "references: " + refs.join(", ") : "";
    li.querySelector(".shot-prompt").addEventListener("input", (e) => { s.prompt = e.target.value; });
    li.querySelector(".shot-beat").addEventListener("input", (e) => { s.beat = e.target.value; });
    li.querySelector(".shot-seconds").addEventListener("change", (e) => { setLength(i, Number(e.target.value)); renderStoryboard(); });
    li.querySelector(".up").addEventListener("click", () => move(i, -1));
    li.querySelector(".down").addEventListener("click", () => move(i, 1));
    li.querySelector(".remove").addEventListener("click", () => removeShot(i));
    list.appendChild(li);
  });
  const total = plan.shots.reduce((n, s) => n + s.frames, 0);
  $("#total").textContent = `— ${plan.shots.length} shots, ${fmt(secs(total))} s (${total} frames; target ${plan.target_frames})`;
  $("#cost").textContent = `estimated $${Number(plan.estimated_cost_usd || 0).toFixed(2)}`;
  const ovs = $("#overlays");
  ovs.innerHTML = "";
  plan.overlays.forEach((o, i) => {
    const li = document.createElement("li");
    li.textContent = `“${o.text}” at ${fmt(fraction(o.start))} s for ${fmt(fraction(o.duration))} s `;
    const x = document.createElement("button");
    x.textContent = "✕";
    x.addEventListener("click", () => { plan.overlays.splice(i, 1); renderStoryboard(); });
    li.appendChild(x);
    ovs.appendChild(li);
  });
}

function move(i, step) {
  const shots = state.plan.shots;
  const j = i + step;
  if (j < 0 || j >= shots.length) return;
  [shots[i], shots[j]] = [shots[j], shots[i]];
  shots.forEach((s) => { s.continues = false; });  // a moved shot no longer continues its old neighbour
  relayout();
  renderStoryboard();
}

function removeShot(i) {
  const shots = state.plan.shots;
  if (shots.length < 2) { say("the storyboard needs at least one shot", true); return; }
  const [gone] = shots.splice(i, 1);
  shots[Math.max(0, i - 1)].frames += gone.frames;  // its time goes to a neighbour
  if (shots[i]) shots[i].continues = false;
  relayout();
  renderStoryboard();
}

function addShot() {
  const shots = state.plan.shots;
  const last = shots[shots.length - 1];
  if (last.frames < 2) { say("the last shot is too short to split", true); return; }
  const half = Math.floor(last.frames / 2);
  last.frames -= half;
  const ids = new Set(shots.map((s) => s.id));
  let n = shots.length + 1;
  while (ids.has("s" + String(n).padStart(2, "0"))) n += 1;
  shots.push(Object.assign(JSON.parse(JSON.stringify(last)), {
    id: "s" + String(n).padStart(2, "0"), frames: half, gen_duration: null, continues: false, in_frame: 0,
    beat: "a new shot", prompt: last.prompt }));
  relayout();
  renderStoryboard();
}

function addOverlay() {
  const text = $("#ov-text").value.trim();
  if (!text) return;
  state.plan.overlays.push({ text, start: $("#ov-start").value || "0", duration: $("#ov-dur").value || "3" });
  $("#ov-text").value = "";
  renderStoryboard();
}

// ------------------------------------------------------------------ make and follow
async function make() {
  try {
    const run = await api("/api/runs", { method: "POST", json: { plan: state.plan } });
    follow(run.id, run.id);
    loadRuns();
  } catch (e) { say(e.message, true); }
}

let source = null;
async function follow(jobId, runId) {
  state.runId = runId;
  state.jobId = jobId;
  $("#live").hidden = false;
  $("#steps").innerHTML = "";
  $("#thumbs").innerHTML = "";
  $("#run-status").textContent = "queued";
  if (source) source.close();
  source = new EventSource(await linkFor(`/api/runs/${jobId}/events`));
  source.addEventListener("step", (msg) => step(JSON.parse(msg.data)));
  source.addEventListener("end", (msg) => {
    const end = JSON.parse(msg.data);
    source.close();
    $("#run-status").textContent = end.status;
    if (end.status === "completed") { $("#progress").value = 1; showResult(runId); }
    else say(`${end.status}: ${end.error || ""}`, end.status === "failed");
    loadRuns();
  });
}

const LABELS = { plan: "Drafting prompts and structuring clips", generate: "Generating", regenerate: "Regenerating",
  check: "Evaluating", cut: "Stitching", overlay: "Overlaying text", verify: "Verifying", deliver: "Delivering",
  edit: "Editing", extend: "Extending" };

function step(e) {
  $("#run-status").textContent = "in progress";
  if (e.step === "generate" && !e.shot && e.total) $("#progress").value = 0.05 + 0.8 * (e.completed || 0) / e.total;
  if (e.step === "cut" && e.status === "done") $("#progress").value = 0.92;
  if (e.status === "progress") return;
  const li = document.createElement("li");
  li.className = `step ${e.status}`;
  li.textContent = `${LABELS[e.step] || e.step}${e.shot ? " [" + e.shot + "]" : ""}: ${e.status}${e.message ? " — " + e.message : ""}`;
  $("#steps").appendChild(li);
  if (e.step === "check" && e.shot && (e.status === "done" || e.status === "failed")) showThumb(e.shot, e.status);
}

async function showThumb(shotId, status) {
  if (status !== "done") return;
  const img = document.createElement("img");
  img.alt = shotId;
  img.className = "thumb";
  img.src = await linkFor(`/api/runs/${state.jobId}/shots/${shotId}/thumbnail`);
  $("#thumbs").appendChild(img);
}

async function cancel() {
  if (!state.jobId) return;
  const run = await api(`/api/runs/${state.jobId}`);
  if (!confirm(`Stop now? ${run.accepted_clips} accepted clips are kept; resuming continues from them.`)) return;
  try { await api(`/api/runs/${state.jobId}/cancel`, { method: "POST" }); } catch (e) { say(e.message, true); }
}

// ------------------------------------------------------------------ result
async function showResult(runId) {
  state.runId = runId;
  $("#result").hidden = false;
  const run = await api(`/api/runs/${runId}`);
  $("#player").src = await linkFor(`/api/runs/${runId}/files/video.mp4?v=${Date.now()}`);
  const dl = $("#downloads");
  dl.innerHTML = "";
  const names = ["video.mp4", "plan.json", "timeline.otio", "report.json"].concat(run.files.filter((f) => /\.(srt|vtt)$/.test(f)));
  for (const name of names) {
    const a = document.createElement("a");
    a.textContent = name;
    a.href = await linkFor(`/api/runs/${runId}/files/${name}`);
    a.download = name;
    dl.appendChild(a);
  }
  const shots = await api(`/api/runs/${runId}/shots`);
  const list = $("#result-shots");
  list.innerHTML = "";
  for (const s of shots) {
    const li = document.createElement("li");
    li.className = "result-shot";
    li.dataset.id = s.id;
    li.innerHTML = `<img class="thumb" alt="${s.id}"><div><b>${s.number}</b> ${fmt(s.start_s)} s +${fmt(s.duration_s)} s
      <textarea class="regen-prompt" rows="2"></textarea><button class="regen-btn">Regenerate this shot</button></div>`;
    li.querySelector(".regen-prompt").value = s.prompt;
    if (s.thumbnail) li.querySelector("img").src = await linkFor(s.thumbnail + `?v=${Date.now()}`);
    li.querySelector(".regen-btn").addEventListener("click", () => regenerate(runId, s.id, li.querySelector(".regen-prompt").value, s.prompt));
    list.appendChild(li);
  }
}

async function regenerate(runId, shotId, prompt, before) {
  try {
    const body = prompt.trim() && prompt.trim() !== before ? { prompt: prompt.trim() } : {};
    const job = await api(`/api/runs/${runId}/shots/${shotId}/regenerate`, { method: "POST", json: body });
    follow(job.id, runId);
  } catch (e) { say(e.message, true); }
}

async function editResult() {
  try {
    const job = await api(`/api/runs/${state.runId}/edits`, { method: "POST", json: { request: $("#edit-text").value } });
    follow(job.id, job.id);
  } catch (e) { say(e.message, true); }
}

async function extendResult() {
  try {
    const job = await api(`/api/runs/${state.runId}/extensions`, { method: "POST",
      json: { seconds: $("#extend-sec").value, prompt: $("#extend-text").value } });
    follow(job.id, job.id);
  } catch (e) { say(e.message, true); }
}

// ------------------------------------------------------------------ runs and batch
async function loadRuns() {
  try {
    const runs = await api("/api/runs?limit=50");
    const body = $("#runs-list");
    body.innerHTML = "";
    for (const r of runs.data) {
      const tr = document.createElement("tr");
      tr.dataset.id = r.id;
      for (const v of [r.status, r.prompt, r.seconds ? r.seconds + " s" : "", r.size,
        r.cost_usd == null ? "" : "$" + r.cost_usd.toFixed(2)]) {
        const td = document.createElement("td");
        td.textContent = v;
        tr.appendChild(td);
      }
      const td = document.createElement("td");
      if (r.status === "completed") {
        const b = document.createElement("button");
        b.textContent = "open";
        b.addEventListener("click", () => showResult(r.id));
        td.appendChild(b);
      } else if (r.status === "queued" || r.status === "in_progress") {
        const b = document.createElement("button");
        b.textContent = "follow";
        b.addEventListener("click", () => follow(r.id, r.id));
        td.appendChild(b);
      }
      tr.appendChild(td);
      body.appendChild(tr);
    }
  } catch (e) { say(e.message, true); }
}

async function batch() {
  try {
    const defaults = options();
    delete defaults.prompt;
    const res = await api("/api/batches", { method: "POST", json: { text: $("#batch-text").value, defaults } });
    say(`queued ${res.runs.length} videos (batch ${res.batch_id}), estimated $${res.estimated_cost_usd.toFixed(2)}`);
    loadRuns();
  } catch (e) { say(e.message, true); }
}

async function loadGenerators() {
  try {
    const gens = await api("/api/generators");
    const sel = $("#generator");
    for (const g of gens) {
      const opt = document.createElement("option");
      opt.value = g.name;
      opt.textContent = g.available ? `${g.name}${g.paid ? " ($" + g.price_per_second_usd + "/s)" : " (free)"}` : `${g.name} — unavailable`;
      opt.disabled = !g.available;
      if (g.name === "animatic") opt.selected = true;
      sel.appendChild(opt);
    }
  } catch (e) { say(e.message, true); }
}

function init() {
  document.querySelectorAll("#modes button").forEach((b) => b.addEventListener("click", () => {
    document.querySelectorAll("#modes button").forEach((x) => x.setAttribute("aria-selected", "false"));
    b.setAttribute("aria-selected", "true");
    state.mode = b.dataset.mode;
  }));
  $("#ref-file").addEventListener("change", uploadRef);
  $("#plan-btn").addEventListener("click", planFirst);
  $("#add-shot").addEventListener("click", addShot);
  $("#add-overlay").addEventListener("click", addOverlay);
  $("#make-btn").addEventListener("click", make);
  $("#cancel-btn").addEventListener("click", cancel);
  $("#edit-btn").addEventListener("click", editResult);
  $("#extend-btn").addEventListener("click", extendResult);
  $("#refresh-runs").addEventListener("click", loadRuns);
  $("#batch-btn").addEventListener("click", batch);
  $("#batch-file").addEventListener("change", async () => {
    const f = $("#batch-file").files[0];
    if (f) $("#batch-text").value = await f.text();
  });
  $("#token-btn").addEventListener("click", () => {
    const t = prompt("Server token");
    if (t !== null) { localStorage.setItem("reelwright-token", t); loadGenerators(); loadRuns(); }
  });
  loadGenerators();
  loadRuns();
}

init();
