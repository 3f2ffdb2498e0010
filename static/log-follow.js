// Live log following on a build's page: the only JavaScript of Kiln's pages. It opens the
// log stream (Server-Sent Events, authenticated by the page's session cookie) from where the
// server-rendered log ends, appends each piece as text, and reloads the page once the build
// has ended so the status, executions and events are final. Without JavaScript the page
// still shows the log as it was when loaded, and a Refresh link.
(function () {
  "use strict";
  var log = document.getElementById("build-log");
  if (!log || log.getAttribute("data-follow") !== "1" || !window.EventSource) return;
  var id = log.getAttribute("data-build-id");
  var offset = log.getAttribute("data-offset") || "0";
  var state = document.getElementById("log-state");
  var source = new EventSource("/api/v1/builds/" + encodeURIComponent(id) + "/logs?follow=1&offset=" +
                               encodeURIComponent(offset));
  var atBottom = function () { return log.scrollHeight - log.scrollTop - log.clientHeight < 40; };

  source.addEventListener("log", function (e) {
    var empty = document.getElementById("log-empty");
    if (empty) empty.remove();
    var stick = atBottom();
    log.appendChild(document.createTextNode(JSON.parse(e.data).text));
    if (stick) log.scrollTop = log.scrollHeight;
  });
  source.addEventListener("end", function (e) {
    source.close();
    var status = JSON.parse(e.data).status;
    var badge = document.getElementById("build-status");
    if (badge) {
      badge.textContent = status;
      badge.className = "badge big s-" + status;
    }
    if (state) state.textContent = "The build " + status + ".";
    window.setTimeout(function () { window.location.reload(); }, 800);
  });
  source.addEventListener("error", function (e) {
    // A server "error" event carries JSON; a network error has no data and the browser
    // reconnects by itself with Last-Event-ID.
    if (e.data) {
      source.close();
      if (state) state.textContent = "Log following stopped: " + JSON.parse(e.data).error.message;
    }
  });
})();
