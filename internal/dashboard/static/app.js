// stix dashboard: the little JavaScript it has. Pages work without it; with it, a job's log follows live, and
// lists and a cluster's or a service's page follow their states.
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
  // A list (clusters, managed jobs, services): each row's state badge follows the server's "states" events; rows
  // that appear are announced (reload to see them), not inserted, so that the page's sort and pages stay.
  function liveStates(table) {
    var live = document.getElementById("live");
    var known = null, added = 0;
    var src = new EventSource(table.dataset.states);
    src.addEventListener("states", function (e) {
      var states = JSON.parse(e.data), first = known === null;
      if (first) known = {};
      Object.keys(states).forEach(function (name) {
        var st = states[name];
        var row = table.querySelector("tr[data-" + table.dataset.key + '="' + CSS.escape(name) + '"]');
        if (row) {
          var badge = row.querySelector("[data-state]");
          badge.textContent = st || "GONE";
          badge.className = "state state-" + (st || "STOPPED");
        } else if (!first && st && !known[name]) {
          added++;
        }
        if (st) known[name] = true;
      });
      table.dataset.following = "1";
      var noun = {cluster: "cluster", job: "managed job", service: "service"}[table.dataset.key] || "row";
      if (added) live.textContent = added + " new " + noun + (added > 1 ? "s" : "") + ": reload to see " + (added > 1 ? "them" : "it") + ".";
    });
    src.addEventListener("fail", function () { src.close(); });
  }
  // A cluster's or a service's page: each [data-live] element follows the server's "states" events (a badge its
  // state, the QPS its number); jobs or replicas that appear are announced (reload to see them), and so is a
  // change of the cluster's state, whose actions (stop, start) the page shows as they were.
  function liveDetail(root) {
    var live = document.getElementById("live");
    var known = null, added = {}, note = "";
    var nouns = {job: "job", replica: "replica", node: "node"};
    var src = new EventSource(root.dataset.states);
    src.addEventListener("states", function (e) {
      var states = JSON.parse(e.data), first = known === null;
      if (first) known = {};
      Object.keys(states).forEach(function (key) {
        var st = states[key];
        var el = root.querySelector('[data-live="' + CSS.escape(key) + '"]');
        if (el && el.hasAttribute("data-state")) {
          el.textContent = st || "GONE";
          el.className = "state state-" + (st || "STOPPED");
        } else if (el) {
          el.textContent = st;
        } else if (!first && st && !known[key]) {
          var kind = key.split("/")[0];
          added[kind] = (added[kind] || 0) + 1;
        }
        if (!first && (key === "cluster" || key === "service")) {
          note = st ? (key === "cluster" ? "The cluster is now " + st + ": reload for the actions that fit." : "") : "The " + key + " is gone.";
        }
        if (st) known[key] = true;
      });
      root.dataset.following = "1";
      var msgs = note ? [note] : [];
      Object.keys(added).forEach(function (kind) {
        var n = added[kind], noun = nouns[kind] || kind;
        msgs.push(n + " new " + noun + (n > 1 ? "s" : "") + ": reload to see " + (n > 1 ? "them" : "it") + ".");
      });
      live.textContent = msgs.join(" ");
    });
    src.addEventListener("fail", function () { src.close(); });
  }
  document.addEventListener("DOMContentLoaded", function () {
    var pre = document.getElementById("log");
    if (pre && pre.dataset.stream && window.EventSource) follow(pre);
    var table = document.querySelector("table[data-states]");
    if (table && table.dataset.key && window.EventSource) liveStates(table);
    var detail = document.getElementById("detail");
    if (detail && detail.dataset.states && window.EventSource) liveDetail(detail);
  });
})();
