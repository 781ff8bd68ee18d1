// Demo marketing tags (stand in for the Meta pixel and Google Ads). They make no network request. The
// banner runs this only once "cookies-marketing" is granted; it then sets the cookies the policy declares
// for the marketing category (`_fbp` and `_gcl_au`, 3 months) and says so in the page's status box.
"use strict";
(function () {
  var threeMonths = 60 * 60 * 24 * 90;
  var now = Date.now();
  function set(name, value) {
    document.cookie = name + "=" + value + "; path=/; max-age=" + threeMonths + "; samesite=lax";
  }
  set("_fbp", "fb.1." + now + "." + Math.floor(Math.random() * 1e9));
  set("_gcl_au", "1.1." + Math.floor(Math.random() * 1e9) + "." + Math.floor(now / 1000));
  document.documentElement.setAttribute("data-demo-marketing", "loaded");
  var list = document.getElementById("demo-status");
  if (list) {
    var item = document.createElement("li");
    item.className = "ran marketing";
    item.textContent = "Демо маркетинг жүктелді (demo marketing loaded): _fbp, _gcl_au";
    list.appendChild(item);
  }
  window.dispatchEvent(new CustomEvent("demo:loaded", { detail: "marketing" }));
})();
