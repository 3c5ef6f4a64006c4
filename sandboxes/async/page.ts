/** The chat page served at `/`: one HTML file, no external assets. */

export function chatPage(server: string): string {
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Chat (${server})</title>
<style>
body { font: 16px/1.4 system-ui, sans-serif; max-width: 40rem; margin: 2rem auto; padding: 0 1rem; }
#log { list-style: none; padding: .5rem; margin: 1rem 0; border: 1px solid #999; height: 18rem; overflow-y: auto; }
#log li { padding: .1rem 0; }
#log .system { color: #666; font-style: italic; }
form { display: flex; gap: .5rem; flex-wrap: wrap; align-items: center; }
#text { flex: 1; min-width: 12rem; padding: .3rem; }
</style>
</head>
<body>
<h1>Chat</h1>
<p>One ${server} process, one event loop. This page talks to <code>/ws</code> over a WebSocket:
messages sent to everyone arrive as <q>broadcast</q> in every open tab, the others come back to
you alone as <q>echo</q>.</p>
<p id="status" role="status">Connecting...</p>
<ul id="log" aria-live="polite"></ul>
<form id="form">
<label for="text">Message</label>
<input id="text" autocomplete="off" maxlength="10000" required>
<label><input id="all" type="checkbox" checked> to everyone</label>
<button type="submit">Send</button>
<button type="button" id="reconnect" hidden>Reconnect</button>
</form>
<script>
"use strict";
const log = document.getElementById("log");
const statusLine = document.getElementById("status");
const reconnect = document.getElementById("reconnect");
let socket;
function show(text, cls) {
  const li = document.createElement("li");
  li.textContent = text;
  if (cls) li.className = cls;
  log.appendChild(li);
  while (log.children.length > 200) log.removeChild(log.firstChild);
  log.scrollTop = log.scrollHeight;
}
function connect() {
  const scheme = location.protocol === "https:" ? "wss://" : "ws://";
  socket = new WebSocket(scheme + location.host + "/ws");
  statusLine.textContent = "Connecting...";
  reconnect.hidden = true;
  socket.onopen = () => { statusLine.textContent = "Connected to " + scheme + location.host + "/ws"; };
  socket.onmessage = (e) => show(typeof e.data === "string" ? e.data : "(binary message)");
  socket.onclose = (e) => {
    statusLine.textContent = "Closed (code " + e.code + (e.reason ? ": " + e.reason : "") + ")";
    reconnect.hidden = false;
  };
}
document.getElementById("form").addEventListener("submit", (e) => {
  e.preventDefault();
  const input = document.getElementById("text");
  if (!socket || socket.readyState !== WebSocket.OPEN || input.value === "") return;
  socket.send((document.getElementById("all").checked ? "all:" : "") + input.value);
  input.value = "";
  input.focus();
});
reconnect.addEventListener("click", connect);
connect();
</script>
</body>
</html>
`;
}
