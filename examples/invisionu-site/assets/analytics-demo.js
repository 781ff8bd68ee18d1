// Demo analytics tag (stands in for Google Analytics). It makes no network request. The banner runs it
// only once "cookies-analytics" is granted; it then sets the cookies the policy declares for the analytics
// category (`_ga` and `_ga_*`, 13 months) and says so in the page's status box.
"use strict";
(function () {
  var thirteenMonths = 60 * 60 * 24 * 395;
  var now = Math.floor(Date.now() / 1000);
  function set(name, value) {
    document.cookie = name + "=" + value + "; path=/; max-age=" + thirteenMonths + "; samesite=lax";
  }
  if (!/(?:^|;\s*)_ga=/.test(document.cookie)) {
    set("_ga", "GA1.1." + Math.floor(Math.random() * 1e9) + "." + now);
  }
  set("_ga_DEMO", "GS1.1." + now + ".1.0." + now + ".0.0.0");
  document.documentElement.setAttribute("data-demo-analytics", "loaded");
  var list = document.getElementById("demo-status");
  if (list) {
    var item = document.createElement("li");
    item.className = "ran analytics";
    item.textContent = "Демо аналитика жүктелді (demo analytics loaded): _ga, _ga_DEMO";
    list.appendChild(item);
  }
  window.dispatchEvent(new CustomEvent("demo:loaded", { detail: "analytics" }));
})();
