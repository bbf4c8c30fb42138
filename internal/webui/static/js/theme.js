// Applied before the first paint so the page never flashes the wrong theme.
// A saved choice wins; otherwise the system's preference; dark by default.
(function () {
  var t = null;
  try { t = localStorage.getItem("tape.theme"); } catch (e) { /* storage may be blocked */ }
  if (t !== "dark" && t !== "light") {
    t = window.matchMedia && window.matchMedia("(prefers-color-scheme: light)").matches ? "light" : "dark";
  }
  document.documentElement.dataset.theme = t;
})();
