// Follows the app's logs live: the dashboard sends server-sent events, one `message` per log
// line (recent history first, then new lines), `end` when the stream is over and `failure`
// with a message when it cannot start. The server-drawn lines stay until the stream opens.
(function () {
  "use strict";
  var log = document.getElementById("log");
  var status = document.getElementById("log-status");
  if (!log || !status || !window.EventSource) return;
  var MAX_LINES = 2000;

  function setStatus(state, text) {
    status.setAttribute("data-state", state);
    status.textContent = text;
  }

  function nearBottom() {
    return log.scrollHeight - log.scrollTop - log.clientHeight < 40;
  }

  function append(text) {
    var follow = nearBottom();
    var line = document.createElement("div");
    line.className = "line";
    line.textContent = text;
    log.appendChild(line);
    while (log.childElementCount > MAX_LINES) log.removeChild(log.firstElementChild);
    if (follow) log.scrollTop = log.scrollHeight;
  }

  var source = new EventSource(log.getAttribute("data-stream"));
  setStatus("connecting", "Connecting\u2026");
  // Each (re)connection starts with the recent history again, so it replaces what is shown.
  source.addEventListener("open", function () {
    log.textContent = "";
    setStatus("live", "Following live.");
  });
  source.addEventListener("message", function (e) {
    append(e.data);
  });
  source.addEventListener("end", function (e) {
    source.close();
    setStatus("ended", e.data + " Reload the page to follow again.");
  });
  source.addEventListener("failure", function (e) {
    source.close();
    setStatus("failed", e.data);
  });
  source.addEventListener("error", function () {
    if (source.readyState === EventSource.CLOSED) {
      setStatus("failed", "The log stream was lost. Reload the page to follow again.");
    } else {
      setStatus("connecting", "Reconnecting\u2026");
    }
  });
})();
