/* Form helpers, loaded on every page (no inline script: the pages will get a CSP without it).
 *
 * form[data-submit-once]: the first submit disables the form's buttons, so a double click sends
 *   one POST. The server does not rely on this (the intake page's one-time token does that);
 *   it only spares the user a confusing second request.
 * form[data-draft="<user>:<path>"]: what is typed is kept in localStorage under that key, put
 *   back when the page is opened fresh (data-draft-fresh: the server rendered no values of its
 *   own), and dropped once a submit has led to another page without an HTTP error.
 */
(function () {
  "use strict";
  var PREFIX = "chengxin:draft:";
  var PENDING = "chengxin:draft:pending";
  var SKIP = { csrf_token: true, submission_token: true };

  function storage(kind) {
    try {
      var s = window[kind];
      s.setItem("chengxin:probe", "1");
      s.removeItem("chengxin:probe");
      return s;
    } catch (e) {
      return null; // private mode or storage disabled: the helpers just do nothing
    }
  }
  var local = storage("localStorage");
  var tab = storage("sessionStorage");

  function kept(el) {
    if (!el.name || el.disabled || SKIP[el.name]) return false;
    var type = (el.type || "").toLowerCase();
    return ["file", "password", "hidden", "submit", "button", "reset", "image"].indexOf(type) < 0;
  }

  function snapshot(form) {
    var values = [];
    Array.prototype.forEach.call(form.elements, function (el) {
      if (!kept(el)) return;
      if (el.type === "checkbox" || el.type === "radio") {
        values.push([el.name, el.value, el.checked]);
      } else if (el.tagName === "SELECT" && el.multiple) {
        Array.prototype.forEach.call(el.options, function (o) { values.push([el.name, o.value, o.selected]); });
      } else {
        values.push([el.name, el.value]);
      }
    });
    return values;
  }

  function hasText(values) {
    return values.some(function (v) { return v.length === 2 ? String(v[1]).trim() !== "" : false; });
  }

  function restore(form, values) {
    var byName = {};
    values.forEach(function (v) { (byName[v[0]] = byName[v[0]] || []).push(v); });
    Array.prototype.forEach.call(form.elements, function (el) {
      var saved = byName[el.name];
      if (!saved || !kept(el)) return;
      if (el.type === "checkbox" || el.type === "radio") {
        saved.forEach(function (v) { if (v[1] === el.value) el.checked = !!v[2]; });
      } else if (el.tagName === "SELECT" && el.multiple) {
        Array.prototype.forEach.call(el.options, function (o) {
          saved.forEach(function (v) { if (v[1] === o.value) o.selected = !!v[2]; });
        });
      } else {
        var next = saved.shift();
        if (next) el.value = next[1];
      }
    });
  }

  function notice(form, key) {
    var box = document.createElement("div");
    box.className = "alert alert-info d-flex align-items-center gap-2";
    box.setAttribute("role", "status");
    box.setAttribute("data-testid", "draft-restored");
    var text = document.createElement("span");
    text.textContent = form.getAttribute("data-draft-restored") || "";
    var discard = document.createElement("button");
    discard.type = "button";
    discard.className = "btn btn-sm btn-outline-secondary ms-auto";
    discard.textContent = form.getAttribute("data-draft-discard") || "×";
    discard.addEventListener("click", function () {
      local.removeItem(key);
      form.reset();
      box.remove();
    });
    box.appendChild(text);
    box.appendChild(discard);
    form.parentNode.insertBefore(box, form);
  }

  // A submit made on an earlier page: did it succeed? It did when the page it led to is neither
  // an HTTP error, nor the same form again (refused, or put back after signing in), nor the login page.
  function settlePending() {
    if (!tab || !local) return;
    var raw = tab.getItem(PENDING);
    if (!raw) return;
    var pending;
    try { pending = JSON.parse(raw); } catch (e) { tab.removeItem(PENDING); return; }
    if (location.pathname.indexOf("/auth/login") === 0) return; // decided after signing in
    tab.removeItem(PENDING);
    var nav = performance.getEntriesByType && performance.getEntriesByType("navigation")[0];
    var failed = nav && nav.responseStatus >= 400;
    var again = Array.prototype.some.call(document.querySelectorAll("form[data-draft]"), function (f) {
      return f.getAttribute("data-draft") === pending.key;
    });
    if (!failed && !again) local.removeItem(PREFIX + pending.key);
  }

  function draft(form) {
    if (!local) return;
    var id = form.getAttribute("data-draft");
    var key = PREFIX + id;
    if (form.hasAttribute("data-draft-fresh")) {
      var saved = null;
      try { saved = JSON.parse(local.getItem(key) || "null"); } catch (e) { saved = null; }
      if (saved && saved.values && hasText(saved.values)) {
        restore(form, saved.values);
        notice(form, key);
      }
    }
    var save = function () {
      var values = snapshot(form);
      if (hasText(values)) local.setItem(key, JSON.stringify({ at: Date.now(), values: values }));
      else local.removeItem(key);
    };
    form.addEventListener("input", save);
    form.addEventListener("change", save);
    form.addEventListener("submit", function () {
      save();
      if (tab) tab.setItem(PENDING, JSON.stringify({ key: id }));
    });
  }

  function submitOnce(form) {
    form.addEventListener("submit", function (event) {
      if (form.getAttribute("data-submitting") === "1") {
        event.preventDefault();
        return;
      }
      form.setAttribute("data-submitting", "1");
      // Disabled after the event, so a named submit button's value is still posted.
      window.setTimeout(function () {
        Array.prototype.forEach.call(form.querySelectorAll("button[type=submit], button:not([type]), input[type=submit]"),
          function (b) { b.disabled = true; b.setAttribute("aria-busy", "true"); });
      }, 0);
    });
  }

  // Back to a page kept in the back/forward cache: its buttons must work again.
  window.addEventListener("pageshow", function (event) {
    if (!event.persisted) return;
    Array.prototype.forEach.call(document.querySelectorAll("form[data-submit-once]"), function (form) {
      form.removeAttribute("data-submitting");
      Array.prototype.forEach.call(form.querySelectorAll("[aria-busy=true]"), function (b) {
        b.disabled = false;
        b.removeAttribute("aria-busy");
      });
    });
  });

  function forgetDraftsOf(user) {
    if (!local) return;
    for (var i = local.length - 1; i >= 0; i--) {
      var k = local.key(i);
      if (k && k.indexOf(PREFIX + user + ":") === 0) local.removeItem(k);
    }
  }

  document.addEventListener("DOMContentLoaded", function () {
    settlePending();
    Array.prototype.forEach.call(document.querySelectorAll("form[data-submit-once]"), submitOnce);
    Array.prototype.forEach.call(document.querySelectorAll("form[data-draft]"), draft);
    // Signing out on purpose (on a shared computer) leaves no typed text behind in this browser.
    Array.prototype.forEach.call(document.querySelectorAll("form[action$='/auth/logout']"), function (f) {
      f.addEventListener("submit", function () {
        var who = f.getAttribute("data-user");
        if (who) forgetDraftsOf(who);
      });
    });
  });
})();

/* What the templates once did with inline handlers, which the Content-Security-Policy forbids:
 * form[data-no-submit]: a preview form that must never be sent.
 * [data-swap-422]: a refused htmx request (422) still swaps its answer in — the panel with its message.
 * [data-select-on-focus]: a field whose whole value is selected when focused (a new token to copy).
 */
(function () {
  "use strict";
  document.addEventListener("submit", function (event) {
    if (event.target.closest && event.target.closest("form[data-no-submit]")) { event.preventDefault(); }
  }, true);
  document.addEventListener("focusin", function (event) {
    if (event.target.matches && event.target.matches("[data-select-on-focus]")) { event.target.select(); }
  });
  document.addEventListener("htmx:beforeSwap", function (event) {
    var target = event.detail.target || event.target;
    var scoped = (target && target.closest && target.closest("[data-swap-422]")) ||
                 (event.target.closest && event.target.closest("[data-swap-422]"));
    if (scoped && event.detail.xhr.status === 422) {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    }
  });
})();

/* A refused form's error summary ([data-error-summary], _form.html) takes the focus when the page
 * opens, so that a screen reader reads it first; its links move the focus to their field. */
(function () {
  "use strict";
  document.addEventListener("DOMContentLoaded", function () {
    var summary = document.querySelector("[data-error-summary]");
    if (summary) { summary.focus(); }
  });
  document.addEventListener("click", function (event) {
    var link = event.target.closest && event.target.closest("[data-error-summary] a[href^='#']");
    if (!link) return;
    var field = document.getElementById(link.getAttribute("href").slice(1));
    if (field) {
      event.preventDefault();
      field.focus();
      field.scrollIntoView({ block: "center" });
    }
  });
})();
