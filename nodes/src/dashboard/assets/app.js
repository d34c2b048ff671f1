// Practice OS dashboard: live updates from the claim stream (Server-Sent Events). The page
// is rendered by the server; this script only patches it when a claim changes. The session
// cookie authenticates the stream (same origin), so no token lives in the script.
(function () {
  "use strict";
  var live = document.getElementById("live");

  function setLive(on) {
    if (!live) return;
    live.className = on ? "on" : "off";
    live.textContent = on ? "live" : "reconnecting";
  }

  function setPill(pill, status) {
    pill.className = "pill pill-" + status;
    pill.textContent = status;
  }

  function onChange(change) {
    if (!change.status) return;
    var cards = document.querySelectorAll('[data-claim-id="' + change.claim_id + '"]');
    cards.forEach(function (element) {
      element.setAttribute("data-status", change.status);
      var pill = element.querySelector(".pill");
      if (pill) setPill(pill, change.status);
      if (element.classList.contains("card")) {
        var column = document.querySelector('[data-column="' + change.status + '"] .cards');
        if (column) column.insertBefore(element, column.firstChild);
      }
    });
    var timeline = document.querySelector('[data-timeline="' + change.claim_id + '"] tbody');
    if (timeline) {
      change.events.forEach(function (name, index) {
        var row = document.createElement("tr");
        var cells = [String(change.sequence - change.events.length + index + 1), name, change.at, "live"];
        cells.forEach(function (text) {
          var cell = document.createElement("td");
          cell.textContent = text;
          row.appendChild(cell);
        });
        timeline.appendChild(row);
      });
    }
    document.body.setAttribute("data-last-change", change.claim_id + ":" + change.sequence);
  }

  if (!window.EventSource) return;
  var source = new EventSource("/api/v1/stream/claims");
  source.onopen = function () { setLive(true); };
  source.onerror = function () { setLive(false); };
  source.addEventListener("claim", function (event) {
    try { onChange(JSON.parse(event.data)); } catch (error) { /* a bad event is skipped */ }
  });
})();
