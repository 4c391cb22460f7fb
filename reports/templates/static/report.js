(function () {
  var root = document.documentElement;
  root.setAttribute("data-report-script", "ran");
  function openTarget() {
    var id = decodeURIComponent(location.hash.slice(1));
    if (!id) { return; }
    var el = document.getElementById(id);
    if (!el) { return; }
    if (el.tagName === "DETAILS") { el.open = true; }
    var inner = el.querySelector("details");
    if (inner) { inner.open = true; }
  }
  window.addEventListener("hashchange", openTarget);
  openTarget();
  window.addEventListener("beforeprint", function () {
    var all = document.querySelectorAll("details");
    for (var i = 0; i < all.length; i++) { all[i].open = true; }
  });
})();
