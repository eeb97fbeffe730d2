// Live pages: a page whose <body> names a stream in data-live listens to it (server-sent
// events from the registry's log) and, on each new entry, fetches itself again and swaps
// the regions marked data-live-region. Without JavaScript the page is whole; it just
// does not update by itself.
(function () {
  "use strict";
  var source = document.body.getAttribute("data-live");
  if (!source || !window.EventSource || !window.fetch) return;
  var status = document.querySelector("[data-live-status]");
  var pending = false;
  var again = false;

  function say(text) {
    if (!status) return;
    status.textContent = text;
    status.hidden = !text;
  }

  function refresh() {
    if (pending) { again = true; return; }
    pending = true;
    fetch(window.location.href, { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (response) { return response.ok ? response.text() : null; })
      .then(function (html) {
        if (!html) return;
        var fresh = new DOMParser().parseFromString(html, "text/html");
        document.querySelectorAll("[data-live-region]").forEach(function (region) {
          if (!region.id) return;
          var replacement = fresh.getElementById(region.id);
          // Leave a region alone while the visitor is typing in it.
          if (replacement && !region.contains(document.activeElement)) {
            region.innerHTML = replacement.innerHTML;
          }
        });
        document.body.setAttribute("data-live-seq", String(lastSeq));
      })
      .catch(function () { /* the next event tries again */ })
      .then(function () {
        pending = false;
        if (again) { again = false; refresh(); }
      });
  }

  var lastSeq = 0;
  var events = new EventSource(source);
  events.addEventListener("entry", function (event) {
    try { lastSeq = JSON.parse(event.data).seq; } catch (e) { /* keep the last one */ }
    refresh();
  });
  var broken = false;
  events.onopen = function () {
    say("");
    document.body.setAttribute("data-live-open", "1");
    // A new stream starts from now: what committed while it was down is fetched once.
    if (broken) { broken = false; refresh(); }
  };
  events.onerror = function () { broken = true; say("Live updates paused; reconnecting…"); };
})();
