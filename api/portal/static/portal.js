// Progressive enhancement only: every page works without it.
(function () {
  "use strict";
  // htmx requests carry the session's CSRF token in a header.
  document.addEventListener("htmx:configRequest", function (event) {
    var meta = document.querySelector('meta[name="csrf-token"]');
    if (meta) { event.detail.headers["X-CSRF-Token"] = meta.content; }
  });
  // "12 of 60 characters" next to fields with a limit, updated while typing, in the page's
  // language: the counter carries its translated pattern ("{count} van 60 tekens").
  // A rich text counts what the server counts, its visible text (static/richtext.js).
  function counted(input) {
    var rich = window.BrandrelayRichText;
    if (input.hasAttribute("data-richtext") && rich) { return rich.visibleLength(input.value); }
    return input.value.length;
  }
  function updateCounter(input) {
    var out = document.getElementById(input.id + "-count");
    if (!out) { return; }
    var max = Number(input.getAttribute("maxlength") || input.getAttribute("data-max"));
    var n = counted(input);
    var pattern = out.getAttribute("data-counter-text") || "{count} of " + max + " characters";
    out.textContent = pattern.replace("{count}", String(n));
    out.classList.toggle("near", n > max * 0.9);
  }
  document.addEventListener("input", function (event) {
    if (event.target.hasAttribute && event.target.hasAttribute("data-counter")) {
      updateCounter(event.target);
    }
  });
  // A preview language tab takes effect at once: a preview request still waiting for the end
  // of typing must ask for the language just chosen, not the one shown before the click.
  document.addEventListener("click", function (event) {
    var tab = event.target.closest && event.target.closest("nav.tabs a[lang]");
    var chosen = document.querySelector('input[name="preview_locale"]');
    if (tab && chosen) { chosen.value = tab.getAttribute("lang"); }
  }, true);
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-counter]").forEach(updateCounter);
    // After a refused save, take keyboard and screen-reader users to the first error.
    var first = document.querySelector("[aria-invalid='true']");
    if (first) { first.focus(); }
  });
})();
