// The SMS counter under the SMS preview: while the partner types, the SMS is rendered with the
// values as typed (POST .../sms-preview, debounced) and the counter says how many SMS it
// costs, in which encoding, and what is left in the last one ("2 SMS · GSM-7 · 145 left").
// Progressive enhancement: without it the page shows the counter of the saved values.
(function () {
  "use strict";
  var DELAY = 300; // ms after the last keystroke
  var timer = null;
  var sent = 0; // only the newest answer is shown

  function csrf() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.content : "";
  }

  function refresh() {
    var box = document.getElementById("sms-preview");
    var form = document.getElementById("content-form");
    if (!box || !form || !box.dataset.smsPreview) { return; }
    var data = new FormData(form);
    var chosen = document.querySelector('input[name="preview_locale"]');
    if (chosen) { data.set("preview_locale", chosen.value); }
    var mine = ++sent;
    fetch(box.dataset.smsPreview, {
      method: "POST",
      body: data,
      headers: { "X-CSRF-Token": csrf(), "Accept": "application/json" },
      credentials: "same-origin"
    }).then(function (resp) {
      return resp.json().then(function (body) { return { ok: resp.ok, body: body }; });
    }).then(function (answer) {
      if (mine !== sent) { return; }
      var text = document.getElementById("sms-text");
      var counter = document.getElementById("sms-counter");
      if (!text || !counter) { return; }
      if (answer.ok) {
        text.textContent = answer.body.text;
        counter.textContent = answer.body.counter;
        counter.classList.toggle("multi", answer.body.segments > 1);
        box.classList.remove("stale");
      } else {
        var reasons = answer.body.reasons || [];
        // The words come translated from the page (the script has no catalogue).
        var why = reasons[0] || box.dataset.checkFields || "check the fields above";
        var pattern = box.dataset.notCounted || "Not counted: {reason}";
        counter.textContent = pattern.replace("{reason}", why);
        box.classList.add("stale");
      }
    }).catch(function () { /* the next keystroke tries again */ });
  }

  document.addEventListener("input", function (event) {
    var form = document.getElementById("content-form");
    if (!form || !form.contains(event.target)) { return; }
    if (timer) { clearTimeout(timer); }
    timer = setTimeout(refresh, DELAY);
  });
})();
