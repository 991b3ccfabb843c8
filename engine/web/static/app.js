// Progressive enhancement for every page; the pages work without it.
(function () {
  "use strict";
  // After a refused form, the summary of what to correct takes the focus, so a screen
  // reader reads it and a keyboard user starts from it.
  var summary = document.getElementById("error-summary");
  if (summary) {
    summary.focus();
    summary.addEventListener("click", function (event) {
      var link = event.target.closest("a[href^='#']");
      if (!link) return;
      var target = document.getElementById(link.getAttribute("href").slice(1));
      if (!target) return;
      event.preventDefault();
      var group = target.closest(".field") || target;
      group.scrollIntoView({ block: "start" });
      target.focus({ preventScroll: true });
    });
  }
})();
