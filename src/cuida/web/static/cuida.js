/*
 * Cuida's browser layer: live events and keyboard shortcuts. No framework; htmx does the swaps.
 *
 * Live events (Server-Sent Events):
 *   Every page with the workspace frame opens one EventSource on /api/v1/events/stream?plain=1
 *   (the session cookie authenticates it). Each event is dispatched on document.body as a DOM event
 *   `cuida:event` whose `detail` is the parsed event: {id, type, at, actor, customer_id,
 *   conversation_id, payload}. Listen with
 *       document.body.addEventListener("cuida:event", (e) => { if (e.detail.type === "...") ... });
 *   or from htmx:  hx-trigger="cuida:event[detail.conversation_id == 42] from:body"
 *   The stream starts after the page's data-event-cursor (the newest event when the page was drawn);
 *   the browser reconnects by itself and sends Last-Event-ID, so the server replays what was missed
 *   (also across a server restart); if the stream gives up, we reopen it with ?after=<last id>.
 *   `cuida:live` is dispatched with detail {connected: true|false} when the connection changes.
 *
 * Keyboard shortcuts:
 *   Cuida.shortcuts.register("a", (item) => ..., {list: true})  — a page's own action for a key.
 *   With {list: true} the handler gets the current list item (or is skipped when there is none).
 *   Built in: j/k move through the elements marked [data-kb-item] in the page (the current one gets
 *   class "kb-current" and aria-selected), Enter opens the current item (its [data-kb-open] link),
 *   x toggles its [data-kb-select] checkbox, "/" focuses [data-shortcut-search], "?" shows the help
 *   overlay, Escape closes it. Keys are ignored while typing in a field.
 *   Cuida.csrf() returns the session's CSRF token for fetch() calls (htmx sends it already).
 */
(function () {
  "use strict";
  var Cuida = (window.Cuida = window.Cuida || {});

  Cuida.csrf = function () {
    return document.body.getAttribute("data-csrf") || "";
  };

  // ---- live events ------------------------------------------------------------------------
  var lastId = null;
  var source = null;
  var retryTimer = null;

  function setLive(connected) {
    var badge = document.getElementById("live-status");
    if (badge) {
      badge.classList.toggle("on", connected);
      badge.textContent = badge.getAttribute(connected ? "data-on" : "data-off");
    }
    document.body.dispatchEvent(new CustomEvent("cuida:live", { detail: { connected: connected } }));
  }

  function openStream() {
    var url = "/api/v1/events/stream?plain=1" + (lastId !== null ? "&after=" + lastId : "");
    source = new EventSource(url, { withCredentials: true });
    source.onopen = function () {
      setLive(true);
    };
    source.onmessage = function (message) {
      var event;
      try {
        event = JSON.parse(message.data);
      } catch (err) {
        return;
      }
      if (message.lastEventId) lastId = message.lastEventId;
      document.body.dispatchEvent(new CustomEvent("cuida:event", { detail: event }));
    };
    source.onerror = function () {
      setLive(false);
      if (source.readyState === EventSource.CLOSED) {
        // The browser gave up (an error status while the server restarts): reopen from our cursor.
        source = null;
        clearTimeout(retryTimer);
        retryTimer = setTimeout(openStream, 2000);
      }
    };
  }
  Cuida.live = {
    lastId: function () {
      return lastId;
    },
  };

  // ---- keyboard shortcuts -----------------------------------------------------------------
  var handlers = {};
  Cuida.shortcuts = {
    register: function (key, handler, options) {
      handlers[key] = { handler: handler, list: !!(options && options.list) };
    },
  };

  function items() {
    return Array.prototype.slice.call(document.querySelectorAll("[data-kb-item]"));
  }
  function current() {
    return document.querySelector("[data-kb-item].kb-current");
  }
  function select(item) {
    items().forEach(function (el) {
      el.classList.remove("kb-current");
      el.removeAttribute("aria-selected");
    });
    if (!item) return;
    item.classList.add("kb-current");
    item.setAttribute("aria-selected", "true");
    item.scrollIntoView({ block: "nearest" });
    Cuida.currentId = item.getAttribute("data-id");
  }
  function move(step) {
    var list = items();
    if (!list.length) return;
    var index = list.indexOf(current());
    var next = index < 0 ? 0 : Math.min(list.length - 1, Math.max(0, index + step));
    select(list[next]);
  }
  Cuida.shortcuts.select = select;
  Cuida.shortcuts.current = current;

  function help(show) {
    var overlay = document.getElementById("help");
    if (!overlay) return;
    overlay.hidden = show === undefined ? !overlay.hidden : !show;
    if (!overlay.hidden) overlay.querySelector("button").focus();
  }

  function typing(target) {
    var tag = (target && target.tagName) || "";
    return tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || (target && target.isContentEditable);
  }

  document.addEventListener("keydown", function (e) {
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    if (e.key === "Escape") {
      help(false);
      if (typing(e.target)) e.target.blur();
      return;
    }
    if (typing(e.target)) return;
    var key = e.key;
    var item = current();
    if (handlers[key]) {
      if (handlers[key].list && !item) return;
      e.preventDefault();
      handlers[key].handler(item, e);
      return;
    }
    if (key === "j" || key === "ArrowDown") {
      e.preventDefault();
      move(1);
    } else if (key === "k" || key === "ArrowUp") {
      e.preventDefault();
      move(-1);
    } else if (key === "Enter" && item) {
      var link = item.querySelector("[data-kb-open]") || item.querySelector("a[href]");
      if (link) {
        e.preventDefault();
        link.click();
      }
    } else if (key === "x" && item) {
      var box = item.querySelector("[data-kb-select]");
      if (box) {
        e.preventDefault();
        box.click();
      }
    } else if (key === "/") {
      var search = document.querySelector("[data-shortcut-search]");
      if (search) {
        e.preventDefault();
        search.focus();
        search.select();
      }
    } else if (key === "?") {
      e.preventDefault();
      help();
    }
  });

  document.addEventListener("click", function (e) {
    var target = e.target;
    if (target.closest && target.closest("[data-shortcut-help]")) help(true);
    if (target.closest && target.closest("[data-close-help]")) help(false);
    if (target.id === "help") help(false);
  });

  // After htmx replaces a list, keep the same row selected when it is still there.
  document.addEventListener("htmx:afterSwap", function () {
    if (!Cuida.currentId) return;
    var again = document.querySelector('[data-kb-item][data-id="' + CSS.escape(Cuida.currentId) + '"]');
    if (again) select(again);
  });

  document.addEventListener("DOMContentLoaded", function () {
    var cursor = document.body.getAttribute("data-event-cursor");
    if (cursor && /^[0-9]+$/.test(cursor)) lastId = cursor;
    if (document.body.classList.contains("app") && window.EventSource) openStream();
  });
})();
