// Progressive enhancement only: every page works without it.
(function () {
  "use strict";
  // htmx requests carry the session's CSRF token in a header.
  document.addEventListener("htmx:configRequest", function (event) {
    var meta = document.querySelector('meta[name="csrf-token"]');
    if (meta) { event.detail.headers["X-CSRF-Token"] = meta.content; }
  });
  // "12 of 60 characters" next to fields with a limit, updated while typing.
  function updateCounter(input) {
    var out = document.getElementById(input.id + "-count");
    if (!out) { return; }
    var max = input.getAttribute("maxlength");
    out.textContent = input.value.length + " of " + max + " characters";
    out.classList.toggle("near", input.value.length > max * 0.9);
  }
  document.addEventListener("input", function (event) {
    if (event.target.hasAttribute && event.target.hasAttribute("data-counter")) {
      updateCounter(event.target);
    }
  });
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-counter]").forEach(updateCounter);
    // After a refused save, take keyboard and screen-reader users to the first error.
    var first = document.querySelector("[aria-invalid='true']");
    if (first) { first.focus(); }
  });
})();
