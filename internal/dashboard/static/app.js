// stix dashboard: the little JavaScript it has. Pages work without it; with it, a job's log follows live.
"use strict";
(function () {
  // The page keeps the end of a long log only: the server streams it, and the browser must not hold it whole.
  var KEEP = 1 << 20;
  function follow(pre) {
    var status = document.getElementById("log-status");
    var src = new EventSource(pre.dataset.stream);
    var size = 0;
    status.textContent = "Following the log…";
    src.addEventListener("log", function (e) {
      var out = JSON.parse(e.data).out;
      var atEnd = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
      pre.appendChild(document.createTextNode(out));
      size += out.length;
      while (size > KEEP && pre.firstChild && pre.firstChild !== pre.lastChild) {
        size -= pre.firstChild.textContent.length;
        pre.removeChild(pre.firstChild);
      }
      if (atEnd) pre.scrollTop = pre.scrollHeight;
    });
    src.addEventListener("end", function (e) {
      src.close();
      var st = JSON.parse(e.data).status;
      status.textContent = "The job ended" + (st ? ": " + st : "") + ".";
      var badge = document.getElementById("job-state");
      if (badge && st) { badge.textContent = st; badge.className = "state state-" + st; }
    });
    src.addEventListener("fail", function (e) {
      src.close();
      status.textContent = "The log stopped: " + JSON.parse(e.data).message;
    });
  }
  document.addEventListener("DOMContentLoaded", function () {
    var pre = document.getElementById("log");
    if (pre && pre.dataset.stream && window.EventSource) follow(pre);
  });
})();
