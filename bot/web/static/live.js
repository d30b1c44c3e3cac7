// Keeps the incident page current: on each change event, fetch the page again and swap in its
// <article>. Without JavaScript the page still works; it just needs a reload.
(function () {
  "use strict";
  var article = document.getElementById("incident");
  if (!article || !window.EventSource) { return; }
  var busy = false;
  var again = false; // a change came while a fetch was under way: its answer may be older
  function refresh() {
    if (busy) { again = true; return; }
    busy = true;
    again = false;
    fetch(window.location.pathname, { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (response) { return response.ok ? response.text() : null; })
      .then(function (html) {
        if (!html) { return; }
        var fresh = new DOMParser().parseFromString(html, "text/html").getElementById("incident");
        var current = document.getElementById("incident");
        if (fresh && current) { current.replaceWith(fresh); }
      })
      .catch(function () { /* the next change event tries again */ })
      .finally(function () { busy = false; if (again) { refresh(); } });
  }
  var source = new EventSource(article.getAttribute("data-live"));
  source.addEventListener("incident", refresh);
}());
