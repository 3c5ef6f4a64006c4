/**
 * The instructor's dashboard: one HTML file, no external assets. It reads the key from the link's
 * fragment (never sent in a Referer), follows the room over server-sent events and builds every
 * element with textContent, so nothing a learner sends can become markup.
 */
export function dashboardPage(nonce: string): string {
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>Classroom - learn-webservers</title>
<style nonce="${nonce}">
:root { --fg: #1b1b1b; --muted: #666; --line: #d6d6d6; --bar: #3b6fb6; --warn: #a04a00; --ok: #1f7a35; --bg: #fff; }
@media (prefers-color-scheme: dark) {
  :root { --fg: #e8e8e8; --muted: #a0a0a0; --line: #444; --bar: #6f9fe0; --warn: #f0a050; --ok: #6fcf8a; --bg: #161616; }
}
body { font: 15px/1.45 system-ui, sans-serif; color: var(--fg); background: var(--bg); margin: 1.5rem auto; max-width: 72rem; padding: 0 1rem; }
h1 { font-size: 1.4rem; margin: 0 0 .25rem; }
h2 { font-size: 1.05rem; margin: 1.5rem 0 .5rem; }
#status { color: var(--muted); margin: 0; }
#status.live { color: var(--ok); }
#status.down { color: var(--warn); }
#join { margin-top: 1rem; padding: .75rem 1rem; border: 1px solid var(--line); border-radius: 6px; }
#join code { font-size: 1.05rem; word-break: break-all; }
#join-code { font-size: 1.6rem; letter-spacing: .2em; font-weight: 600; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: .35rem .5rem; border-bottom: 1px solid var(--line); vertical-align: top; }
th { font-weight: 600; }
td.idle.warn { color: var(--warn); font-weight: 600; }
td.idle.away { color: var(--muted); }
.pace { list-style: none; padding: 0; margin: 0; }
.pace li { display: grid; grid-template-columns: minmax(10rem, 18rem) 3rem 1fr; gap: .5rem; align-items: center; padding: .15rem 0; }
.pace .bar { height: .9rem; background: var(--bar); border-radius: 3px; min-width: 2px; }
.pace .who { grid-column: 1 / -1; color: var(--muted); font-size: .85rem; padding-left: 1rem; }
.muted { color: var(--muted); }
a.button { display: inline-block; padding: .3rem .7rem; border: 1px solid var(--line); border-radius: 5px; text-decoration: none; color: inherit; }
</style>
</head>
<body>
<header>
<h1 id="title">Classroom</h1>
<p id="status" role="status">Connecting...</p>
</header>
<section id="nokey" hidden>
<p>This page needs the instructor link that <code>learn-webservers classroom host</code> printed:
it ends in <code>#key=</code> and a secret.</p>
</section>
<section id="join" hidden>
<div>Join code: <span id="join-code"></span></div>
<div>In a terminal: <code id="join-command"></code></div>
</section>
<section id="room" hidden>
<h2>Pace</h2>
<ol class="pace" id="pace"></ol>
<p id="exam-passed"></p>
<h2>Learners (<span id="count">0</span>) <a class="button" id="export" href="#" download="classroom.csv">Export CSV</a></h2>
<p id="empty" class="muted">Nobody has joined yet.</p>
<table id="learners" hidden>
<thead><tr><th>Name</th><th>Lesson</th><th>Step</th><th>Missions</th><th>Quizzes</th><th id="exam-head">Exam</th><th>Idle</th></tr></thead>
<tbody></tbody>
</table>
</section>
<script nonce="${nonce}">
"use strict";
const $ = (id) => document.getElementById(id);
const key = new URLSearchParams(location.hash.slice(1)).get("key");
let room = null;
let offset = 0;
const IDLE_WARN_MS = 5 * 60 * 1000;
const AWAY_MS = 45 * 1000;

function el(tag, text, cls) {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = String(text);
  if (cls) node.className = cls;
  return node;
}
function setStatus(text, cls) {
  const s = $("status");
  s.textContent = text;
  s.className = cls || "";
}
function ago(ms) {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return s + " s";
  const m = Math.floor(s / 60);
  if (m < 60) return m + " min";
  return Math.floor(m / 60) + " h " + (m % 60) + " min";
}
function lessonIndex(id) {
  return room.lessons.findIndex((l) => l.id === id);
}
function stepOf(p) {
  if (!p) return "not started";
  if (p.screen === "map") return "course map";
  if (p.screen === "reader") {
    const l = room.lessons[lessonIndex(p.lesson)];
    return "reading " + (p.page + 1) + (l ? "/" + l.pages : "");
  }
  return p.screen;
}
function lessonLabel(id) {
  const i = lessonIndex(id);
  return i < 0 ? id : i + 1 + ". " + room.lessons[i].title;
}
function missionsOf(learner) {
  const p = learner.position;
  const total = room.lessons.reduce((n, l) => n + l.missions, 0);
  let met = 0;
  for (const l of room.lessons) met += learner.lessons[l.id] ? learner.lessons[l.id].missions : 0;
  const course = met + "/" + total + " in all";
  if (!p) return course;
  const here = learner.lessons[p.lesson];
  const l = room.lessons[lessonIndex(p.lesson)];
  return (here ? here.missions : 0) + (l ? "/" + l.missions : "") + " here, " + course;
}
function quizzesOf(learner) {
  const parts = [];
  room.lessons.forEach((l, i) => {
    const q = learner.lessons[l.id] && learner.lessons[l.id].quiz;
    if (q) parts.push((i + 1) + ": " + Math.round(q.best * 100) + "%" + (q.passed ? " passed" : ""));
  });
  return parts.length ? parts.join(", ") : "-";
}
function examOf(learner) {
  const e = learner.exam;
  return e ? Math.round(e.best * 100) + "%" + (e.passed ? " passed" : "") : "-";
}
function examAttempts(learner) {
  const e = learner.exam;
  if (!e) return "";
  return e.attempts + (e.attempts === 1 ? " attempt" : " attempts") + ", last " + Math.round(e.last * 100) + "%";
}
function renderExamCount() {
  $("exam-head").hidden = !room.exam;
  $("exam-passed").hidden = !room.exam;
  if (!room.exam) return;
  const took = room.learners.filter((l) => l.exam).length;
  const passed = room.learners.filter((l) => l.exam && l.exam.passed).length;
  $("exam-passed").textContent = took
    ? room.exam.title + ": " + passed + " of " + room.learners.length + " passed (" + took + " took it)"
    : room.exam.title + ": nobody has taken it yet";
}
function idleCell(td, learner) {
  const now = Date.now() + offset;
  const away = now - learner.lastSeen > AWAY_MS;
  const idle = now - learner.lastActive;
  td.textContent = away ? "away " + ago(now - learner.lastSeen) : ago(idle);
  td.className = "idle" + (away ? " away" : idle > IDLE_WARN_MS ? " warn" : "");
}
function renderPace() {
  const counts = new Map(room.lessons.map((l) => [l.id, []]));
  const other = [];
  const waiting = [];
  for (const learner of room.learners) {
    const p = learner.position;
    if (!p) waiting.push(learner.name);
    else if (counts.has(p.lesson)) counts.get(p.lesson).push(learner.name);
    else other.push(learner.name);
  }
  const rows = room.lessons.map((l, i) => [i + 1 + ". " + l.title, counts.get(l.id), l.id]);
  if (waiting.length) rows.unshift(["Not started", waiting, ""]);
  if (other.length) rows.push(["Another lesson pack", other, ""]);
  const most = Math.max(1, ...rows.map((r) => r[1].length));
  const list = $("pace");
  list.replaceChildren();
  for (const [label, names, id] of rows) {
    const li = el("li");
    if (id) li.dataset.lesson = id;
    li.append(el("span", label), el("span", names.length, "n"));
    const bar = el("div", undefined, "bar");
    bar.style.width = (names.length / most) * 100 + "%";
    if (!names.length) bar.style.visibility = "hidden";
    li.append(bar);
    if (names.length) li.append(el("div", names.join(", "), "who"));
    list.append(li);
  }
}
function render() {
  $("title").textContent = room.title + " - classroom";
  document.title = room.title + " - classroom";
  if (room.join) {
    $("join").hidden = false;
    $("join-code").textContent = room.join.code;
    $("join-command").textContent = room.join.command;
  }
  $("room").hidden = false;
  $("count").textContent = room.learners.length;
  $("empty").hidden = room.learners.length > 0;
  $("learners").hidden = room.learners.length === 0;
  renderPace();
  renderExamCount();
  const body = $("learners").tBodies[0];
  const rows = [];
  const sorted = [...room.learners].sort((a, b) => a.name.localeCompare(b.name) || a.joinedAt - b.joinedAt);
  for (const learner of sorted) {
    const tr = el("tr");
    tr.dataset.learner = learner.id;
    const p = learner.position;
    tr.append(
      el("td", learner.name, "name"),
      el("td", p ? lessonLabel(p.lesson) : "-", "lesson"),
      el("td", stepOf(p), "step"),
      el("td", missionsOf(learner), "missions"),
      el("td", quizzesOf(learner), "quizzes"),
    );
    if (room.exam) {
      const exam = el("td", examOf(learner), "exam");
      exam.title = examAttempts(learner);
      tr.append(exam);
    }
    const idle = el("td");
    idleCell(idle, learner);
    tr.append(idle);
    rows.push(tr);
  }
  body.replaceChildren(...rows);
}
function tick() {
  if (!room) return;
  const byId = new Map(room.learners.map((l) => [l.id, l]));
  for (const tr of $("learners").tBodies[0].rows) {
    const learner = byId.get(tr.dataset.learner);
    const idle = tr.querySelector("td.idle");
    if (learner && idle) idleCell(idle, learner);
  }
}
function connect() {
  const stream = new EventSource("/api/stream?key=" + encodeURIComponent(key));
  stream.addEventListener("room", (event) => {
    room = JSON.parse(event.data);
    offset = room.now - Date.now();
    setStatus("Live: updates as learners move", "live");
    render();
  });
  stream.addEventListener("open", () => setStatus("Live: updates as learners move", "live"));
  stream.addEventListener("error", () => {
    if (stream.readyState === EventSource.CLOSED) {
      setStatus("The host refused this link: open the instructor link that classroom host printed.", "down");
    } else {
      setStatus("Reconnecting... (is the host still running?)", "down");
    }
  });
}
if (!key) {
  $("nokey").hidden = false;
  setStatus("No instructor key in this link.", "down");
} else {
  $("export").href = "/api/export.csv?key=" + encodeURIComponent(key);
  connect();
  setInterval(tick, 1000);
}
</script>
</body>
</html>
`;
}
