/*
 * The conversation screen: composer (send, notes, canned replies, live tone guard), shortcuts r and e.
 *
 * - The tone guard runs as the agent types: a debounced POST to /api/v1/triage/review-reply (cookie
 *   session + X-CSRF-Token). Flags are drawn with textContent only (the draft is never parsed as HTML).
 * - Sending posts the form to /conversations/{id}/reply with HX-Request, so the server answers with
 *   fragments: 200 the new thread; 422 (blocked: must be edited) or 409 (warnings: "send anyway" posts
 *   confirmed=1) the composer with the flags; the server decides, this only draws.
 * - A canned reply is fetched filled in (/conversations/{id}/canned/{cid}) and put in the box.
 * - The thread and the panel refresh themselves through htmx on `cuida:event` (see the templates).
 */
(function () {
  "use strict";
  var root = document.getElementById("conversation");
  if (!root) return;
  var conversationId = root.getAttribute("data-conversation-id");
  var Cuida = window.Cuida || {};

  function csrf() {
    return Cuida.csrf ? Cuida.csrf() : document.body.getAttribute("data-csrf") || "";
  }
  function composer() {
    return document.getElementById("composer");
  }
  function textarea() {
    return document.getElementById("reply-text");
  }

  // ---- live tone guard ----------------------------------------------------------------------
  var timer = null;
  var asked = 0;
  function drawFlags(box, draft, review) {
    box.textContent = "";
    if (!review.flags || !review.flags.length) {
      box.className = "tone clean";
      box.textContent = box.getAttribute("data-clean");
      return;
    }
    box.className = "tone flagged";
    var list = document.createElement("ul");
    review.flags.forEach(function (flag) {
      var item = document.createElement("li");
      item.className = "flag " + flag.severity;
      item.setAttribute("data-flag", flag.kind);
      var badge = document.createElement("span");
      badge.className = "badge " + (flag.severity === "block" ? "toxic" : "churn");
      badge.textContent = box.getAttribute(flag.severity === "block" ? "data-block" : "data-warn");
      item.appendChild(badge);
      item.appendChild(document.createTextNode(" «" + draft.slice(Math.max(0, flag.start - 30), flag.start)));
      var mark = document.createElement("mark");
      mark.textContent = draft.slice(flag.start, flag.end);
      item.appendChild(mark);
      item.appendChild(document.createTextNode(draft.slice(flag.end, flag.end + 30) + "» — " + flag.explanation));
      var suggestion = document.createElement("div");
      suggestion.className = "suggestion";
      var quote = document.createElement("q");
      quote.textContent = flag.suggestion;
      suggestion.appendChild(quote);
      var use = document.createElement("button");
      use.type = "button";
      use.className = "small";
      use.setAttribute("data-use-suggestion", "");
      use.setAttribute("data-suggestion", flag.suggestion);
      use.setAttribute("data-start", flag.start);
      use.setAttribute("data-end", flag.end);
      use.textContent = box.getAttribute("data-use");
      suggestion.appendChild(use);
      item.appendChild(suggestion);
      list.appendChild(item);
    });
    box.appendChild(list);
  }

  function review() {
    var area = textarea();
    var box = document.getElementById("tone-live");
    if (!area || !box) return;
    var form = area.form;
    var draft = area.value;
    if (!draft.trim() || (form && form.kind && form.kind.value === "note")) {
      box.textContent = "";
      box.className = "tone";
      return;
    }
    var ticket = ++asked;
    box.className = "tone checking";
    box.textContent = box.getAttribute("data-checking");
    fetch("/api/v1/triage/review-reply", {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf() },
      body: JSON.stringify({
        draft: draft,
        context: {
          agent_role: root.getAttribute("data-agent-role") || null,
          customer_name: root.getAttribute("data-customer-name") || null,
        },
      }),
    })
      .then(function (r) {
        return r.ok ? r.json() : null;
      })
      .then(function (result) {
        if (result && ticket === asked) drawFlags(box, draft, result);
      })
      .catch(function () {
        if (ticket === asked) box.textContent = "";
      });
  }

  document.addEventListener("input", function (e) {
    if (e.target && e.target.id === "reply-text") {
      clearTimeout(timer);
      timer = setTimeout(review, 400);
    }
  });

  // Replace the sentence holding the flagged span with the suggested wording.
  function useSuggestion(button) {
    var area = textarea();
    if (!area) return;
    var text = area.value;
    var start = parseInt(button.getAttribute("data-start"), 10);
    var end = parseInt(button.getAttribute("data-end"), 10);
    var from = start;
    while (from > 0 && ".!?\n".indexOf(text.charAt(from - 1)) < 0) from--;
    var to = end;
    while (to < text.length && ".!?\n".indexOf(text.charAt(to)) < 0) to++;
    if (to < text.length) to++;
    var lead = text.slice(0, from).replace(/\s*$/, from > 0 ? " " : "");
    area.value = lead + button.getAttribute("data-suggestion") + text.slice(to);
    area.focus();
    review();
  }

  // ---- sending ------------------------------------------------------------------------------
  function showError(message) {
    var slot = document.querySelector("[data-composer-error]");
    if (slot) {
      slot.textContent = message;
      slot.hidden = false;
    }
  }

  function send(form, confirmed) {
    var data = new FormData(form);
    if (confirmed) data.set("confirmed", "1");
    return fetch(form.action, {
      method: "POST",
      credentials: "same-origin",
      headers: { "HX-Request": "true", "X-CSRF-Token": csrf() },
      body: data,
    }).then(function (response) {
      return response.text().then(function (body) {
        if (response.status === 200) {
          var thread = document.getElementById("messages");
          if (thread) {
            thread.outerHTML = body;
            var fresh = document.getElementById("messages");
            if (window.htmx && fresh) window.htmx.process(fresh);
            if (fresh) fresh.scrollTop = fresh.scrollHeight;
          }
          form.reset();
          var box = document.getElementById("tone-live");
          if (box) box.textContent = "";
          var refusal = document.querySelector("[data-tone-refusal]");
          if (refusal) refusal.remove();
        } else if (response.status === 409 || response.status === 422) {
          if (body.indexOf("data-tone-refusal") >= 0) {
            composer().outerHTML = body;
            var area = textarea();
            if (area) area.focus();
          } else {
            try {
              showError(JSON.parse(body).error.message);
            } catch (err) {
              showError(body);
            }
          }
        } else {
          try {
            showError(JSON.parse(body).error.message);
          } catch (err) {
            showError(response.status + "");
          }
        }
      });
    });
  }

  document.addEventListener("submit", function (e) {
    var form = e.target;
    if (!form || !form.hasAttribute("data-composer")) return;
    e.preventDefault();
    var submitter = e.submitter;
    send(form, !!(submitter && submitter.hasAttribute("data-send-anyway")));
  });

  document.addEventListener("keydown", function (e) {
    if (e.target && e.target.id === "reply-text" && e.key === "Enter" && (e.ctrlKey || e.metaKey)) {
      e.preventDefault();
      var form = e.target.form;
      if (form.requestSubmit) form.requestSubmit();
      else send(form, false);
    }
  });

  document.addEventListener("click", function (e) {
    var button = e.target.closest && e.target.closest("[data-use-suggestion]");
    if (button) useSuggestion(button);
  });

  // ---- canned replies -----------------------------------------------------------------------
  document.addEventListener("change", function (e) {
    var select = e.target;
    if (!select || !select.hasAttribute || !select.hasAttribute("data-canned") || !select.value) return;
    fetch("/conversations/" + conversationId + "/canned/" + encodeURIComponent(select.value), {
      credentials: "same-origin",
    })
      .then(function (r) {
        return r.json().then(function (body) {
          return { ok: r.ok, body: body };
        });
      })
      .then(function (answer) {
        if (!answer.ok) {
          showError(answer.body.error ? answer.body.error.message : "");
          return;
        }
        var area = textarea();
        area.value = answer.body.text;
        area.focus();
        select.value = "";
        review();
      });
  });

  // ---- shortcuts ----------------------------------------------------------------------------
  if (Cuida.shortcuts) {
    Cuida.shortcuts.register("r", function () {
      var area = textarea();
      if (area) area.focus();
    });
    Cuida.shortcuts.register("e", function () {
      var resolve = document.getElementById("action-resolve");
      if (resolve) resolve.click();
    });
    Cuida.shortcuts.register("a", function () {
      var assign = document.getElementById("action-assign");
      if (assign) assign.click();
    });
  }
})();
