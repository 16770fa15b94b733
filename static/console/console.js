// Small progressive enhancements; every page also works without this file.
(function () {
  "use strict";

  // Copy buttons: <button data-copy-target="ID">. The text is read from the element at click time.
  // A Copy button or Download link with data-snippet-blocked="NOTE_ID" does not act: the snippet
  // needs values the console does not have, so it says which (data-blocked-message) in the
  // snippet's status line and moves focus to the note that explains it.
  var snippetStatus = function (element, message) {
    var section = element.closest(".snippet");
    var status = section && section.querySelector(".snippet-status");
    if (status) status.textContent = message;
  };

  document.addEventListener("click", function (event) {
    var blocked = event.target.closest("[data-snippet-blocked]");
    if (blocked) {
      event.preventDefault();
      snippetStatus(blocked, blocked.getAttribute("data-blocked-message") || "");
      var note = document.getElementById(blocked.getAttribute("data-snippet-blocked"));
      if (note) {
        note.scrollIntoView({ block: "nearest" });
        note.focus({ preventScroll: true });
      }
      return;
    }
    var button = event.target.closest("[data-copy-target]");
    if (!button) return;
    var source = document.getElementById(button.getAttribute("data-copy-target"));
    if (!source) return;
    var text = source.value !== undefined && source.tagName !== "PRE" ? source.value : source.textContent;
    var done = function () {
      var label = button.textContent;
      button.textContent = "Copied";
      var note = button.getAttribute("data-copy-note");
      if (note) snippetStatus(button, note);
      setTimeout(function () { button.textContent = label; }, 1500);
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(done, function () {});
    } else {
      var area = document.createElement("textarea");
      area.value = text;
      document.body.appendChild(area);
      area.select();
      try { document.execCommand("copy"); done(); } catch (e) { /* nothing to do */ }
      document.body.removeChild(area);
    }
  });

  // Confirmation for dangerous buttons: <button data-confirm="Text">.
  document.addEventListener("submit", function (event) {
    var submitter = event.submitter;
    var message = submitter && submitter.getAttribute("data-confirm");
    if (message && !window.confirm(message)) event.preventDefault();
  }, true);

  // Send focus to the main region after an htmx page swap so keyboard users are not lost.
  document.addEventListener("htmx:afterSettle", function (event) {
    var focus = event.detail.elt && event.detail.elt.querySelector && event.detail.elt.querySelector("[data-autofocus]");
    if (focus) focus.focus();
  });

  // A form answered with errors: focus its error summary (templates/console/_error_summary.html),
  // so a screen reader reads it first and Tab reaches its links to the fields.
  var focusErrorSummary = function () {
    var summary = document.querySelector(".error-summary");
    if (summary) summary.focus();
  };

  // A link of the error summary moves focus to its field (not only the scroll position), and
  // shows the field's label with it.
  document.addEventListener("click", function (event) {
    var link = event.target.closest(".error-summary a[href^='#']");
    if (!link) return;
    var field = document.getElementById(link.getAttribute("href").slice(1));
    if (!field) return;
    event.preventDefault();
    var label = document.querySelector("label[for='" + field.id + "']") || field;
    label.scrollIntoView({ block: "start" });
    field.focus({ preventScroll: true });
  });

  // Character counters: <input maxlength="N" data-counter> gets "12 of N characters" after it;
  // data-counter="80" shows it from 80% of N on (for long limits). Without this script the
  // maxlength attribute still stops the typing at N.
  var counterFor = function (field) {
    var limit = parseInt(field.getAttribute("maxlength"), 10);
    if (!limit || field.dataset.counterReady) return;
    var from = Math.floor(limit * (parseInt(field.dataset.counter, 10) || 0) / 100);
    field.dataset.counterReady = "1";
    var counter = document.createElement("span");
    counter.className = "char-count";
    counter.id = (field.id || field.name) + "-count";
    var update = function () {
      var used = field.value.length;
      counter.hidden = used < from;
      counter.textContent = used + " of " + limit + " characters";
      counter.classList.toggle("char-count-full", used >= limit);
    };
    field.insertAdjacentElement("afterend", counter);
    var described = field.getAttribute("aria-describedby");
    field.setAttribute("aria-describedby", (described ? described + " " : "") + counter.id);
    field.addEventListener("input", update);
    update();
  };
  var addCounters = function (root) {
    root.querySelectorAll("[data-counter][maxlength]").forEach(counterFor);
  };

  // A table wider than its box scrolls inside .table-wrap, a long line inside its <pre>. The
  // keyboard can scroll one only when the box itself takes focus, so a box that scrolls at this
  // width joins the Tab order (templates give most <pre> tabindex="0" already).
  var focusableScrollers = function () {
    document.querySelectorAll(".table-wrap, pre").forEach(function (box) {
      var scrolls = box.scrollWidth > box.clientWidth + 1 || box.scrollHeight > box.clientHeight + 1;
      if (scrolls && !box.hasAttribute("tabindex")) {
        box.setAttribute("tabindex", "0");
        box.dataset.scrollFocus = "1";
      } else if (!scrolls && box.dataset.scrollFocus) {
        box.removeAttribute("tabindex");
        delete box.dataset.scrollFocus;
      }
    });
  };

  var onLoad = function () {
    addCounters(document);
    focusErrorSummary();
    focusableScrollers();
  };
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", onLoad);
  else onLoad();
  document.addEventListener("htmx:afterSettle", function (event) {
    if (event.detail.elt && event.detail.elt.querySelectorAll) addCounters(event.detail.elt);
    focusableScrollers();
  });
  window.addEventListener("resize", focusableScrollers);
  document.addEventListener("toggle", focusableScrollers, true); // a <details> opened
})();
