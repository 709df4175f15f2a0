// The case chat, live: messages, typing and presence over /ws/cases/{id}/chat/{room}/.
// Without JavaScript (or while the socket is down) the form posts normally; after a reconnection the
// messages missed meanwhile are fetched with ?after= so nothing is lost. User text is only ever set as
// textContent, never as HTML.
(function () {
  "use strict";
  var panel = document.getElementById("chat");
  if (!panel || !window.WebSocket) { return; }
  var list = panel.querySelector("ol.chat-messages");
  var form = panel.querySelector("form.chat-form");
  var typingLine = panel.querySelector(".typing");
  var presenceLine = panel.querySelector(".presence");
  var me = String(panel.dataset.me);
  var zone = panel.dataset.tz || undefined;
  var roles = JSON.parse(panel.dataset.roles || "{}");
  var lastId = 0;
  var socket = null;
  var retry = 1000;
  var present = {};
  var typingTimer = null;
  var lastTyping = 0;

  list.querySelectorAll("li[data-id]").forEach(function (li) {
    lastId = Math.max(lastId, parseInt(li.dataset.id, 10));
  });

  // "2026-11-28 14:03 (UTC+08:00)" in the user's own time zone, as the page writes times.
  function when(iso) {
    try {
      var parts = {};
      new Intl.DateTimeFormat("en-GB", {
        year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit",
        hourCycle: "h23", timeZone: zone, timeZoneName: "longOffset"
      }).formatToParts(new Date(iso)).forEach(function (p) { parts[p.type] = p.value; });
      var offset = (parts.timeZoneName || "GMT").replace("GMT", "") || "+00:00";
      return parts.year + "-" + parts.month + "-" + parts.day + " " + parts.hour + ":" + parts.minute +
        " (UTC" + offset + ")";
    } catch (e) { return iso; }
  }

  function append(message) {
    if (list.querySelector('li[data-id="' + message.id + '"]')) { return; }
    var li = document.createElement("li");
    li.dataset.id = message.id;
    var who = document.createElement("strong");
    who.textContent = message.author;
    var meta = document.createElement("span");
    meta.className = "small";
    meta.textContent = " " + (roles[message.role] || message.role) + " · " + when(message.sent_at);
    var body = document.createElement("div");
    body.className = "body";
    body.textContent = message.body;
    li.appendChild(who);
    li.appendChild(meta);
    li.appendChild(body);
    // In the order of their ids, whatever order they arrive in.
    var after = null;
    list.querySelectorAll("li[data-id]").forEach(function (other) {
      if (!after && parseInt(other.dataset.id, 10) > message.id) { after = other; }
    });
    list.insertBefore(li, after);
    lastId = Math.max(lastId, message.id);
    var empty = panel.querySelector(".empty");
    if (empty) { empty.remove(); }
    li.scrollIntoView({ block: "nearest" });
  }

  function showPresence() {
    var names = Object.keys(present).map(function (k) { return present[k]; });
    presenceLine.textContent = names.length ? panel.dataset.here + " " + names.join(", ") : "";
  }

  // The history is read from the last id it returned (or the page showed), not from the last id shown:
  // a live message that arrived after one the feed lost must not hide the lost one from the next read.
  var historyId = lastId;

  function catchUp() {
    fetch(panel.dataset.history + "&after=" + historyId, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { return r.ok ? r.json() : { results: [] }; })
      .then(function (data) {
        data.results.forEach(function (message) {
          append(message);
          historyId = Math.max(historyId, message.id);
        });
        if (data.results.length >= 200) { catchUp(); }  // a page of the history: read on
      })
      .catch(function () { /* the next reconnection or minute tries again */ });
  }

  // What the live feed may have missed (the server's channel layer delivers at most once): the history
  // since the last message shown, every minute while connected as well as on every (re)connection.
  setInterval(function () { if (socket && socket.readyState === WebSocket.OPEN) { catchUp(); } }, 60000);

  function connect() {
    var scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
    socket = new WebSocket(scheme + window.location.host + panel.dataset.wsPath);
    socket.addEventListener("open", function () {
      retry = 1000;
      panel.classList.add("live");
      catchUp();
    });
    socket.addEventListener("message", function (event) {
      var data = JSON.parse(event.data);
      if (data.type === "message") {
        append(data);
      } else if (data.type === "typing") {
        typingLine.textContent = data.author + " " + panel.dataset.typing;
        clearTimeout(typingTimer);
        typingTimer = setTimeout(function () { typingLine.textContent = ""; }, 3000);
      } else if (data.type === "presence") {
        if (String(data.author_id) === me) { return; }
        if (data.status === "left") { delete present[data.author_id]; } else { present[data.author_id] = data.author; }
        showPresence();
      } else if (data.type === "error") {
        typingLine.textContent = data.error.message;
      }
    });
    socket.addEventListener("close", function (event) {
      panel.classList.remove("live");
      socket = null;
      present = {};
      showPresence();
      if (event.code === 4403 || event.code === 4401) {
        if (form) { form.hidden = true; }
        typingLine.textContent = panel.dataset.offline;
        return;
      }
      setTimeout(connect, retry);
      retry = Math.min(retry * 2, 30000);
    });
  }

  if (form) {
    var box = form.querySelector("textarea");
    box.addEventListener("input", function () {
      var now = Date.now();
      if (socket && socket.readyState === 1 && now - lastTyping > 2000) {
        lastTyping = now;
        socket.send(JSON.stringify({ type: "typing" }));
      }
    });
    box.addEventListener("keydown", function (event) {
      if (event.key === "Enter" && !event.shiftKey) {
        event.preventDefault();
        form.requestSubmit();
      }
    });
    form.addEventListener("submit", function (event) {
      var body = box.value.trim();
      if (!body) { event.preventDefault(); return; }
      if (socket && socket.readyState === 1) {
        event.preventDefault();
        socket.send(JSON.stringify({ type: "message", body: body }));
        box.value = "";
      }
      // otherwise the form posts normally
    });
  }
  connect();
})();
