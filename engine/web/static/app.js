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
  // A task form is sent once: a second press while the first is on its way would only
  // come back as "already completed".
  document.querySelectorAll("form.task-form").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (form.dataset.sent) { event.preventDefault(); return; }
      form.dataset.sent = "true";
      form.querySelectorAll("button[type=submit]").forEach(function (button) {
        button.setAttribute("aria-disabled", "true");
      });
    });
  });
  window.addEventListener("pageshow", function (event) {  // back to a page kept in memory
    if (!event.persisted) return;
    document.querySelectorAll("form.task-form").forEach(function (form) {
      delete form.dataset.sent;
      form.querySelectorAll("[aria-disabled]").forEach(function (b) { b.removeAttribute("aria-disabled"); });
    });
  });
})();
