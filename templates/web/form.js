// The referral form's two behaviours (served as a file: the pages' Content-Security-Policy allows no inline script).
(function () {
  // After a refused submission the error summary takes focus, so a screen reader reads it first.
  var summary = document.getElementById("error-summary");
  if (summary) { summary.focus(); }
  // The placement's fields only when the child lives away from home (the server reads them only then, too).
  var kind = document.getElementById("placement-kind");
  if (!kind) { return; }
  function toggle() {
    var placed = kind.value !== "home";
    document.querySelectorAll(".placed-only").forEach(function (el) { el.hidden = !placed; });
  }
  kind.addEventListener("change", toggle);
  toggle();
})();
