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

  function formatTime(iso) {
    return iso.replace("T", " ").slice(0, 19);
  }

  function refreshClaim(claimId, summary) {
    fetch("/api/v1/claims/" + claimId, { credentials: "same-origin" })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (claim) {
        if (!claim) return;
        Object.keys(claim.money).forEach(function (key) {
          var cell = summary.querySelector('[data-money="' + key + '"]');
          if (cell) cell.textContent = claim.money[key].amount + " " + claim.money[key].currency;
        });
      });
    var body = document.querySelector('[data-timeline="' + claimId + '"] tbody');
    if (!body) return;
    fetch("/api/v1/claims/" + claimId + "/history", { credentials: "same-origin" })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (history) {
        if (!history) return;
        while (body.firstChild) body.removeChild(body.firstChild);
        history.events.forEach(function (entry) {
          var row = document.createElement("tr");
          [String(entry.sequence), entry.event, formatTime(entry.at), entry.by].forEach(function (text) {
            var cell = document.createElement("td");
            cell.textContent = text;
            row.appendChild(cell);
          });
          body.appendChild(row);
        });
        document.body.setAttribute("data-refreshed", claimId + ":" + history.events.length);
      });
  }

  function onChange(change) {
    if (!change.status) return;
    // A rejection sends the claim back to Draft; the pill says why until it is fixed.
    var shown = change.status === "Draft" && change.events[change.events.length - 1] === "ClaimRejected"
      ? "Rejected" : change.status;
    var cards = document.querySelectorAll('[data-claim-id="' + change.claim_id + '"]');
    cards.forEach(function (element) {
      element.setAttribute("data-status", change.status);
      var pill = element.querySelector(".pill");
      if (pill) setPill(pill, shown);
      if (element.classList.contains("card")) {
        var column = document.querySelector('[data-column="' + change.status + '"] .cards');
        if (column) column.insertBefore(element, column.firstChild);
      }
    });
    // On a claim's page, re-read the claim and its history (GETs ride the session cookie)
    // so the money and the timeline show exactly what the server holds.
    var summary = document.querySelector('[data-summary="' + change.claim_id + '"]');
    if (summary) refreshClaim(change.claim_id, summary);
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
