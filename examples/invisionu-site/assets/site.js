// The demo site's own script (necessary: it writes nothing, sends nothing). It shows the names of the
// cookies the page can see, so that a tester sees what consent, analytics and marketing set and what a
// withdrawal deletes. The demo analytics and marketing scripts report into the same status box.
"use strict";
(function () {
  function show() {
    var out = document.getElementById("demo-cookies");
    if (!out) return;
    var names = document.cookie
      .split(";")
      .map(function (c) { return c.split("=")[0].trim(); })
      .filter(function (n) { return n !== ""; });
    out.textContent = names.length ? names.join(", ") : "—";
  }
  document.addEventListener("DOMContentLoaded", function () {
    show();
    var button = document.getElementById("demo-refresh");
    if (button) button.addEventListener("click", show);
  });
  window.addEventListener("demo:loaded", show);
  // Choices and withdrawals change cookies without telling the page: look again every second.
  setInterval(show, 1000);
})();
