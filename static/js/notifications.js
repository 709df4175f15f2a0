// Live unread count for the bell: listens on /ws/notifications/ (same origin, session cookie).
(function () {
  "use strict";
  var bell = document.querySelector("a.bell");
  if (!bell || !window.WebSocket) { return; }
  var scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
  var socket = new WebSocket(scheme + window.location.host + "/ws/notifications/");
  socket.addEventListener("message", function (event) {
    var data = JSON.parse(event.data);
    if (data.type !== "notification") { return; }
    var badge = bell.querySelector(".badge");
    if (!badge) {
      badge = document.createElement("span");
      badge.className = "badge";
      badge.textContent = "0";
      bell.appendChild(document.createTextNode(" "));
      bell.appendChild(badge);
    }
    badge.textContent = String(parseInt(badge.textContent, 10) + 1);
    // A risk alert for the operators has no case.
    bell.setAttribute("data-last", data.case ? data.title + " " + data.case.reference : data.title);
  });
})();
