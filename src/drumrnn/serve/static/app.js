// drumrnn drum machine: the grid, the controls, a look-ahead scheduler on the Web Audio clock.
"use strict";

const $ = (id) => document.getElementById(id);
const VELOCITY_STEPS = [40, 80, 110, 127];
const DEFAULT_VELOCITY = 100;
const LOOKAHEAD_SECONDS = 0.12; // how far ahead notes are handed to the audio clock
const TICK_MS = 25;             // how often the scheduler wakes up (timer jitter stays < lookahead)

// -- state --------------------------------------------------------------------------------
const state = {
  info: null,
  rows: [],           // [{name, pitch, vel: number[], off: number[], muted: bool}]
  stepsPerQuarter: 4,
  meter: [4, 4],
  selection: null,    // {start, end} bars, end exclusive
  cursor: {row: 0, step: 0},
  busy: false,
};
const hook = window.__drumrnn = {
  ready: false, soundsLoaded: false, playing: false,
  scheduled: 0, loopCounts: [], firstLoop: [], midiSent: 0, lastRequestMs: 0,
  gridHits: () => gridHits(true),
  grid: () => gridJSON(false),
};

const stepsPerBar = () => state.meter[0] * 4 * state.stepsPerQuarter / state.meter[1];
const meterText = (meter) => `${meter[0]}/${meter[1]}`;
const chosenMeter = () => $("meter").value.split("/").map(Number); // for new patterns
const nSteps = () => (state.rows.length ? state.rows[0].vel.length : 0);
const nBars = () => nSteps() / stepsPerBar();
const tempo = () => clampNumber($("tempo"), 20, 300, 120);
const swing = () => Number($("swing").value);
const stepSeconds = () => 60 / tempo() / state.stepsPerQuarter;

function clampNumber(input, lo, hi, fallback) {
  const v = Number(input.value);
  return Number.isFinite(v) && input.value !== "" ? Math.min(hi, Math.max(lo, v)) : fallback;
}

function gridHits(audibleOnly) {
  let n = 0;
  for (const row of state.rows) {
    if (audibleOnly && row.muted) continue;
    for (const v of row.vel) if (v > 0) n++;
  }
  return n;
}

// -- the grid as the API's JSON -------------------------------------------------------------
// audibleOnly: muted rows go out silent (downloads hold what is heard)
function gridJSON(audibleOnly) {
  return {
    tempo: tempo(), swing: swing(), meter: state.meter, steps_per_quarter: state.stepsPerQuarter,
    rows: state.rows.map((r) => ({
      name: r.name, pitch: r.pitch, offsets: r.off,
      velocities: audibleOnly && r.muted ? r.vel.map(() => 0) : r.vel,
    })),
  };
}

function loadGrid(grid) {
  const muted = new Set(state.rows.filter((r) => r.muted).map((r) => r.pitch));
  state.rows = grid.rows.map((r) => ({
    name: r.name, pitch: r.pitch, vel: r.velocities.slice(),
    off: (r.offsets || r.velocities.map(() => 0)).slice(), muted: muted.has(r.pitch),
  }));
  state.meter = grid.meter; // the menu keeps the meter chosen for new patterns
  state.stepsPerQuarter = grid.steps_per_quarter;
  if (state.selection && state.selection.end > nBars()) state.selection = null;
  renderGrid();
  player.gridChanged();
}

function emptyGrid(bars) {
  const steps = bars * stepsPerBar();
  return {
    meter: state.meter, steps_per_quarter: state.stepsPerQuarter,
    rows: state.info.rows.map((r) => ({name: r.name, pitch: r.pitch,
      velocities: new Array(steps).fill(0), offsets: new Array(steps).fill(0)})),
  };
}

// -- drawing --------------------------------------------------------------------------------
let cellEls = [];   // [row][step] -> element
let columnEls = []; // [step] -> elements of the column

function renderGrid() {
  const grid = $("grid");
  grid.textContent = "";
  const spb = stepsPerBar();
  const head = div("row head");
  const corner = div("label");
  corner.textContent = "drum · pitch";
  head.append(corner);
  for (let bar = 0; bar < nBars(); bar++) {
    const b = document.createElement("button");
    b.type = "button";
    b.className = "barnum";
    b.textContent = String(bar + 1);
    b.style.width = `calc(${spb} * (var(--cell-w) + 1px) + 2px)`;
    b.setAttribute("aria-pressed", "false");
    b.title = "Select this bar (shift: a range)";
    b.addEventListener("click", (e) => selectBar(bar, e.shiftKey));
    head.append(b);
  }
  grid.append(head);
  cellEls = [];
  columnEls = Array.from({length: nSteps()}, () => []);
  state.rows.forEach((row, r) => {
    const line = div("row" + (row.muted ? " muted" : ""));
    line.setAttribute("role", "row");
    const label = div("label");
    const name = document.createElement("span");
    name.className = "name";
    name.textContent = row.name;
    const pitch = document.createElement("span");
    pitch.className = "pitch";
    pitch.textContent = String(row.pitch);
    pitch.title = "MIDI pitch written";
    const mute = document.createElement("button");
    mute.type = "button";
    mute.textContent = "M";
    mute.title = `Mute ${row.name}`;
    mute.setAttribute("aria-pressed", String(row.muted));
    mute.addEventListener("click", () => toggleMute(r));
    label.append(name, pitch, mute);
    line.append(label);
    const els = [];
    for (let s = 0; s < row.vel.length; s++) {
      const cell = div("cell" + (s % state.stepsPerQuarter === 0 ? " beat" : "") + (s % spb === 0 && s ? " bar" : ""));
      cell.dataset.row = r;
      cell.dataset.step = s;
      cell.setAttribute("role", "gridcell");
      els.push(cell);
      columnEls[s].push(cell);
      line.append(cell);
    }
    cellEls.push(els);
    grid.append(line);
  });
  for (let r = 0; r < state.rows.length; r++) for (let s = 0; s < nSteps(); s++) drawCell(r, s);
  drawSelection();
  moveCursor(Math.min(state.cursor.row, state.rows.length - 1), Math.min(state.cursor.step, nSteps() - 1));
}

function div(cls) {
  const d = document.createElement("div");
  d.className = cls;
  return d;
}

function drawCell(r, s) {
  const cell = cellEls[r][s];
  const v = state.rows[r].vel[s];
  cell.textContent = "";
  cell.setAttribute("aria-label", `${state.rows[r].name}, bar ${Math.floor(s / stepsPerBar()) + 1} step ${s % stepsPerBar() + 1}: ${v ? "velocity " + v : "rest"}`);
  if (!v) return;
  const bar = document.createElement("span");
  bar.className = "vel";
  bar.style.height = `${Math.max(8, (60 * v) / 127)}%`; // the top stays free for the number
  // the feel: the hit's offset from its step, drawn as a shift of up to half a cell
  bar.style.transform = `translateX(${(state.rows[r].off[s] || 0) * 50}%)`;
  const num = document.createElement("span");
  num.className = "num";
  num.textContent = String(v);
  cell.append(bar, num);
}

function drawSelection() {
  const sel = state.selection;
  document.querySelectorAll(".barnum").forEach((b, bar) =>
    b.setAttribute("aria-pressed", String(!!sel && bar >= sel.start && bar < sel.end)));
  const spb = stepsPerBar();
  columnEls.forEach((cells, s) => {
    const on = !!sel && s >= sel.start * spb && s < sel.end * spb;
    cells.forEach((c) => c.classList.toggle("sel", on));
  });
}

// -- editing --------------------------------------------------------------------------------
function setCell(r, s, v, keepOffset) {
  state.rows[r].vel[s] = Math.max(0, Math.min(127, Math.round(v)));
  if (!state.rows[r].vel[s] || !keepOffset) state.rows[r].off[s] = 0;
  drawCell(r, s);
  player.gridChanged();
}

function cycleVelocity(v) {
  const next = VELOCITY_STEPS.find((x) => x > v);
  return next === undefined ? VELOCITY_STEPS[0] : next;
}

function toggleMute(r) {
  state.rows[r].muted = !state.rows[r].muted;
  renderGrid();
  player.gridChanged();
}

function selectBar(bar, extend) {
  const sel = state.selection;
  if (extend && sel) state.selection = {start: Math.min(sel.start, bar), end: Math.max(sel.end, bar + 1)};
  else if (sel && sel.start === bar && sel.end === bar + 1) state.selection = null;
  else state.selection = {start: bar, end: bar + 1};
  drawSelection();
}

function moveCursor(r, s) {
  const old = cellEls[state.cursor.row] && cellEls[state.cursor.row][state.cursor.step];
  if (old) old.classList.remove("cursor");
  state.cursor = {row: Math.max(0, r), step: Math.max(0, s)};
  const cell = cellEls[state.cursor.row] && cellEls[state.cursor.row][state.cursor.step];
  if (!cell) return;
  cell.classList.add("cursor");
  if (document.activeElement === $("grid")) cell.scrollIntoView({block: "nearest", inline: "nearest"});
}

// pointer: a click toggles, shift-click cycles the velocity, a vertical drag sets it
let drag = null;
$("grid").addEventListener("pointerdown", (e) => {
  const cell = e.target.closest(".cell");
  if (!cell || e.button !== 0) return;
  const r = Number(cell.dataset.row), s = Number(cell.dataset.step);
  drag = {r, s, y: e.clientY, start: state.rows[r].vel[s], moved: false, shift: e.shiftKey};
  cell.setPointerCapture(e.pointerId);
  moveCursor(r, s);
});
$("grid").addEventListener("pointermove", (e) => {
  if (!drag) return;
  const dy = drag.y - e.clientY;
  if (!drag.moved && Math.abs(dy) < 4) return;
  drag.moved = true;
  setCell(drag.r, drag.s, Math.max(1, (drag.start || DEFAULT_VELOCITY) + dy), true);
});
$("grid").addEventListener("pointerup", () => {
  if (!drag) return;
  const {r, s, moved, shift} = drag;
  drag = null;
  if (moved) return;
  const v = state.rows[r].vel[s];
  if (shift) setCell(r, s, cycleVelocity(v), true);
  else setCell(r, s, v ? 0 : DEFAULT_VELOCITY, false);
});
$("grid").addEventListener("pointercancel", () => { drag = null; });

$("grid").addEventListener("keydown", (e) => {
  const {row, step} = state.cursor;
  const v = state.rows[row] ? state.rows[row].vel[step] : 0;
  const moves = {ArrowLeft: [0, -1], ArrowRight: [0, 1], ArrowUp: [-1, 0], ArrowDown: [1, 0]};
  if (moves[e.key] && !e.shiftKey) {
    const [dr, ds] = moves[e.key];
    moveCursor(Math.min(state.rows.length - 1, row + dr), Math.min(nSteps() - 1, step + ds));
  } else if (e.key === "Enter" || e.key === "x") {
    setCell(row, step, v ? 0 : DEFAULT_VELOCITY, false);
  } else if (e.key === "+" || e.key === "=" || (e.shiftKey && e.key === "ArrowUp")) {
    setCell(row, step, Math.min(127, (v || 0) + 10), true);
  } else if (e.key === "-" || (e.shiftKey && e.key === "ArrowDown")) {
    setCell(row, step, Math.max(0, v - 10), true);
  } else if (e.key === "m" || e.key === "M") {
    toggleMute(row);
    $("grid").focus();
  } else {
    return;
  }
  e.preventDefault();
});

// -- talking to the server --------------------------------------------------------------------
function settings() {
  const info = state.info;
  const seedInput = $("seed");
  return {
    temperature: Number($("temperature").value),
    seed: $("new-seed").checked || seedInput.value === "" ? null : clampNumber(seedInput, 0, 2147483647, 0),
    tempo: tempo(), swing: swing(), feel: Number($("feel").value),
    style: info.supports.style && $("style").value ? $("style").value : null,
    kind: info.supports.kind && $("kind").value ? $("kind").value : null,
    fill_every: info.supports.fill_every ? clampNumber($("fill-every"), 0, 16, 0) : 0,
    meter: chosenMeter(),
  };
}

function status(text, error) {
  const el = $("status");
  el.textContent = text;
  el.classList.toggle("error", !!error);
  el.setAttribute("role", error ? "alert" : "status");
}

function errorText(body, response) {
  if (body && typeof body.detail === "string") return body.detail;
  if (body && Array.isArray(body.detail)) {
    return body.detail.map((d) => `${(d.loc || []).filter((x) => x !== "body").join(".")}: ${d.msg}`).join("; ");
  }
  return `${response.status} ${response.statusText}`;
}

async function post(path, body, as) {
  const started = performance.now();
  const response = await fetch(path, {
    method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify(body),
  });
  hook.lastRequestMs = performance.now() - started;
  if (!response.ok) {
    let detail = null;
    try { detail = await response.json(); } catch (_) { /* not JSON */ }
    throw new Error(errorText(detail, response));
  }
  return as === "blob" ? response.blob() : response.json();
}

async function run(label, fn) {
  if (state.busy) return;
  state.busy = true;
  document.body.setAttribute("aria-busy", "true");
  try {
    await fn();
  } catch (err) {
    status(`${label}: ${err.message}`, true);
  } finally {
    state.busy = false;
    document.body.removeAttribute("aria-busy");
    hook.busy = false;
  }
}

function showResult(what, answer) {
  loadGrid(answer.grid);
  $("seed").value = answer.seed;
  status(`${what}: ${nBars()} bars, seed ${answer.seed} (${Math.round(hook.lastRequestMs)} ms)`);
  hook.lastSeed = answer.seed;
}

function barsWanted() { return clampNumber($("bars"), 1, 16, 4); }

$("generate").addEventListener("click", () => run("Generate", async () => {
  const body = {...settings(), bars: barsWanted()};
  const sel = state.selection;
  if (sel) {
    body.grid = gridJSON(false);
    body.seed_bars = [sel.start, sel.end];
  }
  showResult(sel ? `Generated after bars ${sel.start + 1}-${sel.end}` : "Generated", await post("/api/generate", body));
  state.selection = null;
  drawSelection();
}));

$("continue").addEventListener("click", () => run("Continue", async () => {
  showResult("Continued", await post("/api/continue", {...settings(), grid: gridJSON(false), add_bars: barsWanted()}));
}));

$("regenerate").addEventListener("click", () => run("Regenerate", async () => {
  const sel = state.selection;
  if (!sel) throw new Error("select the bars to regenerate first (click the bar numbers)");
  showResult(`Regenerated bars ${sel.start + 1}-${sel.end}`,
    await post("/api/regenerate", {...settings(), grid: gridJSON(false), start: sel.start, end: sel.end}));
}));

$("humanize").addEventListener("click", () => run("Humanize", async () => {
  const s = settings();
  showResult("Humanized", await post("/api/humanize",
    {grid: gridJSON(false), amount: s.feel, seed: s.seed, style: s.style, kind: s.kind}));
}));

$("clear").addEventListener("click", () => {
  state.meter = chosenMeter();
  loadGrid(emptyGrid(barsWanted()));
  status("Cleared");
});

// the menu is the meter of new patterns: an empty grid is redrawn in it at once; a grid with
// hits keeps its own (Continue, Regenerate, Humanize and Generate after selected bars too)
$("meter").addEventListener("change", () => {
  const text = $("meter").value;
  if (gridHits(false) === 0) {
    state.meter = chosenMeter();
    loadGrid(emptyGrid(barsWanted()));
    status(`Meter ${text}`);
  } else {
    status(`Meter ${text} for new patterns (Generate with no bars selected, Clear); this grid stays in ${meterText(state.meter)}`);
  }
});

async function download(kind) {
  await run(`Download ${kind.toUpperCase()}`, async () => {
    const grid = gridJSON(true);
    const blob = await post(`/api/${kind}`, grid, "blob");
    const a = document.createElement("a");
    a.href = URL.createObjectURL(blob);
    a.download = `drumrnn.${kind === "midi" ? "mid" : kind}`;
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(a.href), 10000);
    status(`Downloaded ${a.download}`);
  });
}
$("download-midi").addEventListener("click", () => download("midi"));
$("download-wav").addEventListener("click", () => download("wav"));
$("download-mp3").addEventListener("click", () => download("mp3"));
$("download-flac").addEventListener("click", () => download("flac"));

// -- sounds ---------------------------------------------------------------------------------
const sounds = {velocities: [], buffers: new Map()}; // pitch -> [AudioBuffer per velocity]

async function loadSounds() {
  const list = await (await fetch("/api/sounds")).json();
  if (!list.pitches.length) return;
  // AudioBuffers work in any context: decode now, without starting audio before a gesture
  const decoder = new OfflineAudioContext(1, 1, 48000);
  sounds.velocities = list.velocities;
  await Promise.all(list.pitches.map(async (pitch) => {
    const buffers = await Promise.all(list.velocities.map(async (velocity) => {
      const url = list.url.replace("{pitch}", pitch).replace("{velocity}", velocity);
      return decoder.decodeAudioData(await (await fetch(url)).arrayBuffer());
    }));
    sounds.buffers.set(pitch, buffers);
  }));
  hook.soundsLoaded = true;
  hook.soundsMs = performance.now();
}

// -- playing: a look-ahead scheduler on the audio clock --------------------------------------
// A timer wakes every TICK_MS and hands every note due within LOOKAHEAD_SECONDS to the audio
// clock with its exact time (step + offset + swing), so timer jitter never moves a note.
const player = {
  ctx: null, timer: null, events: [], next: 0, loopStart: 0, horizon: 0,
  stepQueue: [], nextStep: 0, loopCount: 0, midiOut: null,

  buildEvents() {
    const dt = stepSeconds(), delay = swing() / 50 - 1, events = [];
    state.rows.forEach((row) => {
      if (row.muted) return;
      row.vel.forEach((v, s) => {
        if (!v) return;
        const t = Math.max(0, (s + (row.off[s] || 0) + (s % 2 ? delay : 0)) * dt);
        events.push({t, pitch: row.pitch, v, s});
      });
    });
    events.sort((a, b) => a.t - b.t);
    return events;
  },
  loopSeconds() { return nSteps() * stepSeconds(); },

  start() {
    if (!this.ctx) this.ctx = new AudioContext({latencyHint: "interactive"});
    this.ctx.resume();
    this.events = this.buildEvents();
    this.next = 0;
    this.nextStep = 0;
    this.loopCount = 0;
    hook.loopCounts = [0];
    hook.firstLoop = []; // what the first loop handed to the audio clock, for the tests
    this.loopStart = this.horizon = this.ctx.currentTime + 0.06;
    this.timer = setInterval(() => this.tick(), TICK_MS);
    this.tick();
    requestAnimationFrame(() => this.draw());
    hook.playing = true;
    $("play").textContent = "Stop";
    $("play").setAttribute("aria-pressed", "true");
  },

  stop() {
    clearInterval(this.timer);
    this.timer = null;
    hook.playing = false;
    this.stepQueue = [];
    columnEls.forEach((cells) => cells.forEach((c) => c.classList.remove("now")));
    $("play").textContent = "Play";
    $("play").setAttribute("aria-pressed", "false");
  },

  tick() {
    const until = this.ctx.currentTime + LOOKAHEAD_SECONDS;
    const loop = this.loopSeconds(), dt = stepSeconds();
    for (;;) {
      const noteDue = this.next < this.events.length && this.loopStart + this.events[this.next].t < until;
      const stepDue = this.nextStep < nSteps() && this.loopStart + this.nextStep * dt < until;
      if (noteDue) {
        const ev = this.events[this.next++];
        this.play(ev, this.loopStart + ev.t);
      } else if (stepDue) {
        this.stepQueue.push({step: this.nextStep, when: this.loopStart + this.nextStep * dt});
        this.nextStep++;
      } else if (this.loopStart + loop < until && this.next >= this.events.length && this.nextStep >= nSteps()) {
        this.loopStart += loop; // the loop is fully scheduled: the next one starts
        this.next = 0;
        this.nextStep = 0;
        hook.loopCounts.push(0);
      } else {
        break;
      }
    }
    this.horizon = until;
  },

  play(ev, when) {
    hook.scheduled++;
    hook.loopCounts[hook.loopCounts.length - 1]++;
    if (hook.loopCounts.length === 1) hook.firstLoop.push({pitch: ev.pitch, velocity: ev.v, seconds: when - this.loopStart});
    const buffers = sounds.buffers.get(ev.pitch);
    if (buffers) {
      let best = 0;
      sounds.velocities.forEach((v, i) => {
        if (Math.abs(v - ev.v) < Math.abs(sounds.velocities[best] - ev.v)) best = i;
      });
      const source = this.ctx.createBufferSource();
      source.buffer = buffers[best];
      const gain = this.ctx.createGain();
      gain.gain.value = Math.min(2, ev.v / sounds.velocities[best]);
      source.connect(gain).connect(this.ctx.destination);
      source.start(when);
    }
    if (this.midiOut) {
      const at = performance.now() + (when - this.ctx.currentTime) * 1000;
      this.midiOut.send([0x99, ev.pitch, ev.v], at);
      this.midiOut.send([0x89, ev.pitch, 0], at + 60);
      hook.midiSent++;
    }
  },

  // The grid (or tempo, swing, mutes) changed: rebuild the notes, keep the place in the loop.
  gridChanged(oldStepSeconds) {
    if (!this.timer) return;
    const dt = stepSeconds();
    if (oldStepSeconds && oldStepSeconds !== dt) {
      const position = (this.horizon - this.loopStart) / oldStepSeconds;
      this.loopStart = this.horizon - position * dt;
    }
    if (this.horizon - this.loopStart >= this.loopSeconds()) this.loopStart = this.horizon;
    this.events = this.buildEvents();
    const done = this.horizon - this.loopStart;
    this.next = this.events.findIndex((ev) => ev.t >= done);
    if (this.next < 0) this.next = this.events.length;
    this.nextStep = Math.min(nSteps(), Math.ceil(done / dt - 1e-9));
  },

  draw() {
    if (!this.timer) return;
    const now = this.ctx.currentTime;
    let current = null;
    while (this.stepQueue.length && this.stepQueue[0].when <= now) current = this.stepQueue.shift();
    if (current !== null) {
      document.querySelectorAll(".cell.now").forEach((c) => c.classList.remove("now"));
      (columnEls[current.step] || []).forEach((c) => c.classList.add("now"));
      hook.step = current.step;
    }
    hook.audioTime = now;
    requestAnimationFrame(() => this.draw());
  },
};

function togglePlay() {
  if (player.timer) player.stop();
  else player.start();
}
$("play").addEventListener("click", togglePlay);

let lastStepSeconds = stepSeconds();
$("tempo").addEventListener("input", () => { player.gridChanged(lastStepSeconds); lastStepSeconds = stepSeconds(); });
$("swing").addEventListener("input", () => { $("swing-out").value = `${swing()}%`; player.gridChanged(); });
$("temperature").addEventListener("input", () => { $("temperature-out").value = Number($("temperature").value).toFixed(2); });
$("feel").addEventListener("input", () => { $("feel-out").value = Number($("feel").value).toFixed(2); });
$("seed").addEventListener("input", () => { $("new-seed").checked = $("seed").value === ""; });

document.addEventListener("keydown", (e) => {
  const t = e.target;
  const typing = t instanceof HTMLInputElement && t.type !== "checkbox" && t.type !== "range" || t instanceof HTMLSelectElement;
  if (typing || e.ctrlKey || e.metaKey || e.altKey) return;
  if (e.key === " ") {
    e.preventDefault();
    togglePlay();
  } else if (t === $("grid") || t === document.body) {
    const button = {g: "generate", c: "continue", r: "regenerate", h: "humanize"}[e.key];
    if (button) {
      e.preventDefault();
      $(button).click();
    }
  }
});

// -- Web MIDI (optional) ----------------------------------------------------------------------
if (navigator.requestMIDIAccess) {
  $("midi-enable").hidden = false;
  $("midi-enable").addEventListener("click", async () => {
    try {
      const access = await navigator.requestMIDIAccess();
      const fill = () => {
        const select = $("midi-out"), chosen = select.value;
        select.length = 1;
        for (const out of access.outputs.values()) select.add(new Option(out.name, out.id));
        select.value = [...access.outputs.keys()].includes(chosen) ? chosen : "";
      };
      fill();
      access.onstatechange = fill;
      $("midi-out").onchange = () => { player.midiOut = access.outputs.get($("midi-out").value) || null; };
      $("midi-label").hidden = false;
      $("midi-enable").hidden = true;
      status(access.outputs.size ? "Choose a MIDI output" : "No MIDI outputs found");
    } catch (err) {
      status(`MIDI: ${err.message}`, true);
    }
  });
}

// -- start --------------------------------------------------------------------------------------
async function init() {
  state.info = await (await fetch("/api/info")).json();
  state.stepsPerQuarter = state.info.steps_per_quarter;
  state.meter = state.info.meters[0];
  for (const meter of state.info.meters) $("meter").add(new Option(meterText(meter), meterText(meter)));
  const style = $("style");
  for (const name of state.info.styles) style.add(new Option(name, name));
  const unsupported = (id, what) => {
    $(id).disabled = true;
    $(id).title = `this model was trained without ${what}`;
  };
  if (!state.info.supports.style) unsupported("style", "style labels");
  if (!state.info.supports.kind) unsupported("kind", "beat/fill labels");
  if (!state.info.supports.fill_every) unsupported("fill-every", "beat/fill labels");
  loadGrid(emptyGrid(barsWanted()));
  status(`Model: ${state.info.encoding} encoding, kit ${state.info.kit}. Press Generate, or click cells to draw a beat.`);
  hook.ready = true;
  hook.readyMs = performance.now(); // since navigation started
  loadSounds().catch((err) => status(`Sounds did not load: ${err.message}`, true));
}
init().catch((err) => status(`Could not start: ${err.message}`, true));
