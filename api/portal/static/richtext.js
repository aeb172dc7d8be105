// Rich-text slots edited as formatted text: a toolbar (bold, italic, link, lists) and an
// editable area over each <textarea data-richtext>. The textarea stays the form's field and is
// the whole editor without JavaScript; this script hides it and writes the area's HTML back on
// every change and on submit. docs/rich-text.md says what it allows and how to add a button.
//
// The server's sanitiser (content/sanitize.py) is the gatekeeper. The filter below is a
// courtesy that keeps the editor to what the server keeps: markup that comes in (the saved or
// refused value, a paste, a drop) is parsed into an inert document and only allowed elements
// are rebuilt from it, text as text. Nothing unfiltered is ever set as HTML.
(function () {
  "use strict";
  var HTML_NS = "http://www.w3.org/1999/xhtml";
  // What the editor keeps, and what it writes (b and i become strong and em).
  var ALLOWED = { p: "p", br: "br", strong: "strong", b: "strong", em: "em", i: "em",
    a: "a", ul: "ul", ol: "ol", li: "li" };
  // Dropped with their content, as the server does: code and embedded documents, not text.
  var DROPPED = set("script style iframe frame frameset object embed applet noscript noembed " +
    "noframes template textarea select title xmp svg math head");
  // Blocks the editor does not keep: a paragraph when they hold no block of their own.
  var PARAGRAPHS = set("div h1 h2 h3 h4 h5 h6 blockquote pre section article header footer " +
    "address figure figcaption dt dd td th caption");
  var BLOCKS = "p,div,ul,ol,li,h1,h2,h3,h4,h5,h6,blockquote,pre,table,section,article," +
    "header,footer,address,figure,dl";
  // Where the server's text starts a new line (content/sanitize.py, _BLOCKS and br).
  var LINE_BREAKS = set("p li h2 h3 blockquote ul ol");
  var SCHEME = /^(https?:\/\/|mailto:)/i;

  function set(words) {
    var out = {};
    words.split(" ").forEach(function (w) { if (w) { out[w] = true; } });
    return out;
  }

  function inert(html) {
    return new DOMParser().parseFromString(html, "text/html").body;
  }

  // The link target if it is http(s) or mailto, else "" (no relative links: they mean nothing
  // in an email or on paper).
  function safeHref(raw) {
    var href = raw == null ? "" : String(raw).trim();
    if (!SCHEME.test(href)) { return ""; }
    try {
      var url = new URL(href);
      return /^(https?|mailto):$/.test(url.protocol) ? href : "";
    } catch (e) {
      return "";
    }
  }

  function holdsParagraph(target) {
    return target.nodeType === 11 || target.localName === "li" || target.localName === "div";
  }

  // Copies the allowed part of `source`'s children into `target`, built in this document.
  function cleanInto(source, target) {
    Array.prototype.forEach.call(source.childNodes, function (node) { cleanNode(node, target); });
    return target;
  }

  function cleanNode(node, target) {
    if (node.nodeType === 3) {
      target.appendChild(document.createTextNode(node.nodeValue));
      return;
    }
    if (node.nodeType !== 1 || node.namespaceURI !== HTML_NS) { return; }
    var name = node.localName;
    if (DROPPED[name]) { return; }
    var tag = ALLOWED[name];
    var href = "";
    if (tag === "a") {
      href = safeHref(node.getAttribute("href"));
      if (!href) { tag = undefined; }
    }
    var blocks = node.querySelector(BLOCKS) !== null;
    if ((tag === "p" || (!tag && PARAGRAPHS[name])) && holdsParagraph(target)) {
      // A paragraph holding blocks (a list the browser put in a <p>, a pasted <div>): its
      // blocks side by side, the text between them in paragraphs of its own.
      if (blocks) { paragraphs(node, target); return; }
      tag = "p";
    }
    if (!tag) {
      cleanInto(node, target); // not allowed: its text stays
      return;
    }
    var el = document.createElement(tag);
    if (href) { el.setAttribute("href", href); }
    cleanInto(node, el);
    target.appendChild(el);
  }

  function paragraphs(node, target) {
    var run = null;
    Array.prototype.forEach.call(node.childNodes, function (child) {
      if (child.nodeType === 1 && child.matches(BLOCKS)) {
        run = null;
        cleanNode(child, target);
        return;
      }
      if (!run) {
        run = document.createElement("p");
        target.appendChild(run);
      }
      cleanNode(child, run);
    });
    Array.prototype.slice.call(target.childNodes).forEach(function (child) {
      if (child.localName === "p" && !child.textContent.trim() && !child.querySelector("br")) {
        target.removeChild(child);
      }
    });
  }

  function cleanFragment(html) {
    return cleanInto(inert(html), document.createDocumentFragment());
  }

  // What a reader sees, one line per block, as the server counts it (text_content).
  function visibleText(root) {
    var lines = [];
    var current = [];
    function newLine() {
      var line = current.join("").replace(/\s+/g, " ").trim();
      if (line) { lines.push(line); }
      current = [];
    }
    function walk(node) {
      Array.prototype.forEach.call(node.childNodes, function (child) {
        if (child.nodeType === 3) { current.push(child.nodeValue); return; }
        if (child.nodeType !== 1 || child.namespaceURI !== HTML_NS) { return; }
        var name = child.localName;
        if (DROPPED[name]) { return; }
        if (LINE_BREAKS[name] || name === "br") { newLine(); }
        walk(child);
        if (LINE_BREAKS[name]) { newLine(); }
      });
    }
    walk(root);
    newLine();
    return lines.join("\n");
  }

  // The length the server's max_length checks: characters of the visible text, not markup.
  function visibleLength(html) {
    return Array.from(visibleText(inert(html))).length;
  }

  // The area's content as the allowed HTML; "" when it shows no text (HQ's text applies).
  function htmlOf(area) {
    var box = cleanInto(area, document.createElement("div"));
    return visibleText(box) ? box.innerHTML : "";
  }

  function element(tag, className) {
    var el = document.createElement(tag);
    if (className) { el.className = className; }
    return el;
  }

  // Toolbar buttons: the label's data- attribute on the textarea and the editing command.
  // Adding one: a label in _slot_field.html (translated) and a line here.
  var BUTTONS = [
    { label: "labelBold", command: "bold", className: "rt-bold" },
    { label: "labelItalic", command: "italic", className: "rt-italic" },
    { label: "labelLink", command: "link", className: "rt-link" },
    { label: "labelBullets", command: "insertUnorderedList", className: "rt-bullets" },
    { label: "labelNumbers", command: "insertOrderedList", className: "rt-numbers" }
  ];

  function enhance(textarea) {
    if (textarea.dataset.richtextReady) { return; }
    textarea.dataset.richtextReady = "true";
    var labels = textarea.dataset;
    var wrap = element("div", "richtext");
    var bar = element("div", "richtext-toolbar");
    var area = element("div", "richtext-area");
    area.id = textarea.id + "-editor";
    area.contentEditable = "true";
    area.setAttribute("role", "textbox");
    area.setAttribute("aria-multiline", "true");
    area.spellcheck = true;
    if (textarea.lang) { area.lang = textarea.lang; }
    // The label names the area too (its `for` points at the hidden textarea).
    var label = textarea.labels && textarea.labels[0];
    if (label) {
      if (!label.id) { label.id = textarea.id + "-label"; }
      area.setAttribute("aria-labelledby", label.id);
      label.addEventListener("click", function () { area.focus(); });
    }
    // The textarea is hidden: its description, state and requirement move to the area (the
    // server still refuses an empty required field).
    ["aria-describedby", "aria-invalid"].forEach(function (name) {
      if (textarea.hasAttribute(name)) {
        area.setAttribute(name, textarea.getAttribute(name));
        textarea.removeAttribute(name);
      }
    });
    if (textarea.required) {
      area.setAttribute("aria-required", "true");
      textarea.required = false;
    }
    bar.id = area.id + "-toolbar";
    bar.setAttribute("role", "toolbar");
    bar.setAttribute("aria-label", labels.labelToolbar || "");
    bar.setAttribute("aria-controls", area.id);
    area.appendChild(cleanFragment(textarea.value));

    var saved = null; // the selection in the area, kept while the toolbar or link row has focus
    var dirty = false;

    function sync() {
      var html = htmlOf(area);
      if (textarea.value !== html) {
        textarea.value = html;
        // Counters, the live preview and the SMS counter listen to the field itself.
        textarea.dispatchEvent(new Event("input", { bubbles: true }));
      }
    }
    function changed() {
      dirty = true;
      sync();
      refresh();
    }
    function remember() {
      var sel = window.getSelection();
      if (inArea(sel)) { saved = sel.getRangeAt(0).cloneRange(); }
    }
    function inArea(sel) {
      return sel && sel.rangeCount && area.contains(sel.getRangeAt(0).commonAncestorContainer);
    }
    // Back to the area with the selection it had (the link row took the focus); a selection
    // still in the area is the one to act on.
    function restore() {
      var sel = window.getSelection();
      var current = inArea(sel) ? sel.getRangeAt(0) : saved;
      area.focus();
      if (current) {
        sel.removeAllRanges();
        sel.addRange(current);
      }
    }
    function run(command, value) {
      restore();
      document.execCommand("styleWithCSS", false, false);
      document.execCommand("defaultParagraphSeparator", false, "p");
      document.execCommand(command, false, value);
      remember();
      changed();
    }

    var stateful = [];
    BUTTONS.forEach(function (spec) {
      var button = element("button", "richtext-button " + spec.className);
      var text = labels[spec.label] || spec.command;
      button.type = "button";
      button.textContent = text;
      button.title = text;
      button.setAttribute("aria-label", text);
      if (spec.command !== "link") {
        button.setAttribute("aria-pressed", "false");
        stateful.push({ button: button, command: spec.command });
      }
      // Pressing a button must not take the selection out of the area.
      button.addEventListener("mousedown", function (event) { event.preventDefault(); });
      button.addEventListener("click", function () {
        if (spec.command === "link") { openLink(); } else { run(spec.command, null); }
      });
      bar.appendChild(button);
    });

    function refresh() {
      stateful.forEach(function (s) {
        var on = false;
        try { on = document.queryCommandState(s.command); } catch (e) { on = false; }
        s.button.setAttribute("aria-pressed", on ? "true" : "false");
      });
    }

    // The link row: an address field in the page instead of a prompt window.
    var row = element("div", "richtext-link");
    row.hidden = true;
    var addressId = area.id + "-link";
    var addressLabel = element("label");
    addressLabel.htmlFor = addressId;
    addressLabel.textContent = labels.labelAddress || "";
    var address = element("input");
    address.type = "url";
    address.id = addressId;
    address.placeholder = "https://";
    address.setAttribute("autocomplete", "url");
    var add = element("button", "secondary");
    add.type = "button";
    add.textContent = labels.labelAdd || "";
    var cancel = element("button", "secondary");
    cancel.type = "button";
    cancel.textContent = labels.labelCancel || "";
    var refusal = element("p", "error");
    refusal.id = area.id + "-link-error";
    refusal.hidden = true;
    refusal.setAttribute("role", "alert");
    row.appendChild(addressLabel);
    row.appendChild(address);
    row.appendChild(add);
    row.appendChild(cancel);
    row.appendChild(refusal);

    function openLink() {
      remember();
      row.hidden = false;
      refusal.hidden = true;
      address.removeAttribute("aria-invalid");
      address.value = "";
      address.focus();
    }
    function closeLink() {
      row.hidden = true;
      restore();
    }
    function applyLink() {
      var href = safeHref(address.value);
      if (!href) {
        refusal.textContent = labels.labelBadLink || "";
        refusal.hidden = false;
        address.setAttribute("aria-invalid", "true");
        address.setAttribute("aria-describedby", refusal.id);
        address.focus();
        return;
      }
      row.hidden = true;
      if (saved && !saved.collapsed) {
        run("createLink", href);
        return;
      }
      // No text selected: the address itself becomes the link's text.
      restore();
      var sel = window.getSelection();
      if (!sel.rangeCount) { return; }
      var range = sel.getRangeAt(0);
      var link = document.createElement("a");
      link.setAttribute("href", href);
      link.textContent = href;
      range.insertNode(link);
      range.setStartAfter(link);
      range.collapse(true);
      sel.removeAllRanges();
      sel.addRange(range);
      remember();
      changed();
    }
    add.addEventListener("click", applyLink);
    cancel.addEventListener("click", closeLink);
    address.addEventListener("keydown", function (event) {
      if (event.key === "Enter") { event.preventDefault(); applyLink(); } // never submits
      if (event.key === "Escape") { event.preventDefault(); closeLink(); }
    });
    // The address is not a form field: keep its typing away from the preview and counters.
    ["input", "change"].forEach(function (type) {
      address.addEventListener(type, function (event) { event.stopPropagation(); });
    });

    // Pasted or dropped content goes through the filter; plain text stays plain text.
    function insertFrom(data) {
      var html = data.getData("text/html");
      if (html) {
        var box = cleanInto(inert(html), document.createElement("div"));
        // Only the filtered markup, built above from allowed elements, reaches the editor.
        document.execCommand("insertHTML", false, box.innerHTML);
      } else {
        document.execCommand("insertText", false, data.getData("text/plain"));
      }
      changed();
    }
    area.addEventListener("paste", function (event) {
      if (!event.clipboardData) { return; }
      event.preventDefault();
      insertFrom(event.clipboardData);
    });
    area.addEventListener("drop", function (event) {
      if (!event.dataTransfer) { return; }
      event.preventDefault();
      var at = document.caretRangeFromPoint
        ? document.caretRangeFromPoint(event.clientX, event.clientY)
        : null;
      if (at && area.contains(at.startContainer)) {
        var sel = window.getSelection();
        sel.removeAllRanges();
        sel.addRange(at);
      }
      insertFrom(event.dataTransfer);
    });
    area.addEventListener("input", function (event) {
      event.stopPropagation(); // the textarea's own input event follows from sync()
      changed();
    });
    // Mouse, keyboard and touch selections alike.
    document.addEventListener("selectionchange", function () {
      if (inArea(window.getSelection())) { remember(); refresh(); }
    });
    area.addEventListener("focus", function () {
      document.execCommand("defaultParagraphSeparator", false, "p");
    });
    if (textarea.form) {
      textarea.form.addEventListener("submit", function () { if (dirty) { sync(); } }, true);
    }

    wrap.appendChild(bar);
    wrap.appendChild(row);
    wrap.appendChild(area);
    textarea.parentNode.insertBefore(wrap, textarea);
    textarea.hidden = true;
    textarea.editor = area;
  }

  // A link to the hidden field (the error summary's) takes the reader to its editor.
  document.addEventListener("click", function (event) {
    var link = event.target.closest && event.target.closest("a[href^='#']");
    if (!link) { return; }
    var field = document.getElementById(decodeURIComponent(link.getAttribute("href").slice(1)));
    if (field && field.editor) {
      event.preventDefault();
      field.editor.scrollIntoView({ block: "center" });
      field.editor.focus();
    }
  });

  // portal.js's character counter asks this for a rich text's length.
  window.BrandrelayRichText = { visibleLength: visibleLength, safeHref: safeHref };

  function start() {
    document.querySelectorAll("textarea[data-richtext]").forEach(enhance);
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start(); // deferred: before portal.js focuses the first field with an error
  }
})();
