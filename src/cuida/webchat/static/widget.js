/* Cuida web chat widget. Pasted into a company's site as
 *   <script src="https://<cuida>/widget.js" data-cuida-widget="<public key>" async></script>
 * It draws a launcher and a chat panel inside a shadow root (the site's CSS does not reach it, and
 * ours does not leak out), talks to Cuida's public widget endpoints (CORS: only the widget's
 * allowed origins) and hears replies on an EventSource. Everything a person wrote is put on the page
 * with textContent, never as HTML. */
(function () {
  "use strict";
  var tag = document.currentScript || document.querySelector("script[data-cuida-widget]");
  if (!tag) return;
  var key = tag.getAttribute("data-cuida-widget");
  if (!key || window["__cuidaWidget_" + key]) return;
  window["__cuidaWidget_" + key] = true;
  var base = new URL(tag.src, document.baseURI).origin;
  var api = base + "/api/v1/widget/" + encodeURIComponent(key);
  var storeKey = "cuida-widget:" + key;
  var HEX = /^#[0-9a-fA-F]{6}$/;

  function stored() {
    try { return window.localStorage.getItem(storeKey); } catch (e) { return null; }
  }
  function store(token) {
    try { window.localStorage.setItem(storeKey, token); } catch (e) { /* private mode: session only */ }
  }
  function call(method, path, body, token) {
    var headers = { "Content-Type": "application/json" };
    if (token) headers["X-Cuida-Visitor"] = token;
    return fetch(api + path, {
      method: method,
      headers: headers,
      body: body ? JSON.stringify(body) : undefined,
      credentials: "omit",
    }).then(function (response) {
      return response.text().then(function (text) {
        var data = null;
        try { data = text ? JSON.parse(text) : null; } catch (e) { data = null; }
        if (!response.ok) {
          var error = new Error((data && data.error && data.error.message) || response.statusText);
          error.status = response.status;
          error.code = data && data.error && data.error.code;
          throw error;
        }
        return data;
      });
    });
  }
  function el(name, attrs, text) {
    var node = document.createElement(name);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text !== undefined && text !== null) node.textContent = text;
    return node;
  }
  function newId() {
    var bytes = new Uint8Array(12);
    (window.crypto || window.msCrypto).getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
  }

  var lang = (document.documentElement.lang || navigator.language || "").slice(0, 2).toLowerCase();
  call("GET", "/config?lang=" + encodeURIComponent(lang)).then(build, function () { /* no widget: stay silent */ });

  function build(config) {
    if (!config.online && config.offline_behaviour === "hide") return;
    var t = config.strings;
    var theme = config.theme || {};
    var primary = HEX.test(theme.primary) ? theme.primary : "#0f766e";
    var onPrimary = HEX.test(theme.on_primary) ? theme.on_primary : "#ffffff";
    var side = theme.position === "left" ? "left" : "right";
    var state = { token: stored(), online: config.online, email: null, source: null, seen: {}, ready: null };

    var host = el("div", { id: "cuida-widget", "data-cuida": key });
    var root = host.attachShadow({ mode: "open" });
    var style = el("style");
    style.textContent =
      ":host{all:initial}" +
      "*{box-sizing:border-box;font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif}" +
      ".launcher{position:fixed;bottom:20px;" + side + ":20px;z-index:2147483000;width:56px;height:56px;" +
      "border-radius:50%;border:0;background:" + primary + ";color:" + onPrimary + ";font-size:26px;" +
      "cursor:pointer;box-shadow:0 4px 14px rgba(0,0,0,.25);display:flex;align-items:center;justify-content:center}" +
      ".launcher:focus-visible,button:focus-visible,input:focus-visible{outline:3px solid #1d4ed8;outline-offset:2px}" +
      ".panel{position:fixed;bottom:88px;" + side + ":20px;z-index:2147483000;width:340px;max-width:calc(100vw - 40px);" +
      "height:460px;max-height:calc(100vh - 120px);display:flex;flex-direction:column;background:#fff;color:#111;" +
      "border-radius:12px;box-shadow:0 8px 30px rgba(0,0,0,.25);overflow:hidden}" +
      "[hidden]{display:none!important}" +
      "header{display:flex;align-items:center;justify-content:space-between;padding:12px 14px;background:" +
      primary + ";color:" + onPrimary + "}" +
      "header h2{margin:0;font-size:16px}" +
      ".close{background:transparent;border:0;color:inherit;font-size:22px;cursor:pointer;line-height:1}" +
      ".status{font-size:12px;padding:6px 14px;background:#f3f4f6;color:#374151}" +
      ".log{flex:1;overflow-y:auto;padding:10px 14px;display:flex;flex-direction:column;gap:8px}" +
      ".line{max-width:85%;padding:8px 10px;border-radius:10px;white-space:pre-wrap;word-wrap:break-word;font-size:14px}" +
      ".line .who{display:block;font-size:11px;opacity:.75;margin-bottom:2px}" +
      ".visitor{align-self:flex-end;background:" + primary + ";color:" + onPrimary + "}" +
      ".agent{align-self:flex-start;background:#e5e7eb;color:#111}" +
      ".notice{align-self:center;background:transparent;color:#4b5563;font-size:12px;text-align:center}" +
      "form{display:flex;gap:6px;padding:8px 10px;border-top:1px solid #e5e7eb}" +
      "form.identify{flex-wrap:wrap}" +
      "form.identify p{margin:0;width:100%;font-size:13px}" +
      "input{flex:1;min-width:0;padding:8px;border:1px solid #9ca3af;border-radius:6px;font-size:14px;color:#111;background:#fff}" +
      "form button{padding:8px 12px;border:0;border-radius:6px;background:" + primary + ";color:" + onPrimary +
      ";cursor:pointer;font-size:14px}" +
      ".error{color:#b91c1c;font-size:12px;padding:0 14px 6px;min-height:0}" +
      ".sr{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}";
    root.appendChild(style);

    var launcher = el("button", {
      type: "button", class: "launcher", "aria-label": t.open, "aria-expanded": "false",
      "aria-controls": "cuida-panel", "data-cuida-launcher": "",
    });
    // A speech bubble drawn inline: no font or image from anywhere else.
    var svgNs = "http://www.w3.org/2000/svg";
    var icon = document.createElementNS(svgNs, "svg");
    icon.setAttribute("viewBox", "0 0 24 24");
    icon.setAttribute("width", "26");
    icon.setAttribute("height", "26");
    icon.setAttribute("aria-hidden", "true");
    var bubble = document.createElementNS(svgNs, "path");
    bubble.setAttribute("d", "M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H9l-5 4v-4H4a2 2 0 0 1-2-2V6a2 2 0 0 1 2-2z");
    bubble.setAttribute("fill", "currentColor");
    icon.appendChild(bubble);
    launcher.appendChild(icon);
    var panel = el("section", { id: "cuida-panel", class: "panel", role: "dialog", "aria-label": t.title, hidden: "" });
    var header = el("header");
    header.appendChild(el("h2", {}, t.title));
    var close = el("button", { type: "button", class: "close", "aria-label": t.close }, "×");
    header.appendChild(close);
    var status = el("div", { class: "status", role: "status" });
    var log = el("div", { class: "log", role: "log", "aria-live": "polite", "aria-label": t.log, tabindex: "0" });
    var greeting = el("div", { class: "line agent" });
    greeting.appendChild(el("span", { class: "who" }, t.team));
    greeting.appendChild(document.createTextNode(config.greeting || t.greeting));
    log.appendChild(greeting);
    var error = el("div", { class: "error", role: "alert" });

    var identify = el("form", { class: "identify", novalidate: "" });
    identify.appendChild(el("p", {}, t.identify));
    var nameLabel = el("label", { class: "sr", for: "cuida-name" }, t.name);
    var nameInput = el("input", { id: "cuida-name", name: "name", type: "text", autocomplete: "name", maxlength: "100", placeholder: t.name });
    var emailLabel = el("label", { class: "sr", for: "cuida-email" }, t.email);
    var emailInput = el("input", { id: "cuida-email", name: "email", type: "email", autocomplete: "email", maxlength: "320", placeholder: t.email });
    var save = el("button", { type: "submit" }, t.save);
    [nameLabel, nameInput, emailLabel, emailInput, save].forEach(function (n) { identify.appendChild(n); });

    var compose = el("form", { class: "compose" });
    var textLabel = el("label", { class: "sr", for: "cuida-text" }, t.message_label);
    var textInput = el("input", {
      id: "cuida-text", name: "text", type: "text", autocomplete: "off",
      maxlength: String(config.max_message_chars), placeholder: t.placeholder,
    });
    var send = el("button", { type: "submit" }, t.send);
    [textLabel, textInput, send].forEach(function (n) { compose.appendChild(n); });

    [header, status, log, error, identify, compose].forEach(function (n) { panel.appendChild(n); });
    root.appendChild(launcher);
    root.appendChild(panel);
    (document.body || document.documentElement).appendChild(host);

    function showStatus() {
      status.textContent = state.online ? t.online : t.offline;
      // Offered until an email is known (offline, it is needed: the answer goes by email).
      identify.hidden = !!state.email;
    }
    showStatus();

    function line(item) {
      if (state.seen[item.id]) return;
      state.seen[item.id] = true;
      var node = el("div", { class: "line " + (item.kind === "visitor" ? "visitor" : item.kind === "agent" ? "agent" : "notice"), "data-kind": item.kind });
      if (item.kind === "notice") {
        node.textContent = t[item.text] || "";
      } else {
        node.appendChild(el("span", { class: "who" }, item.kind === "visitor" ? t.you : (item.author || t.team)));
        node.appendChild(document.createTextNode(item.text));
      }
      log.appendChild(node);
      log.scrollTop = log.scrollHeight;
    }

    function listen() {
      if (state.source || !state.token || !window.EventSource) return;
      state.source = new EventSource(api + "/stream?token=" + encodeURIComponent(state.token));
      state.source.onmessage = function (event) {
        try { line(JSON.parse(event.data)); } catch (e) { /* a malformed line is skipped */ }
      };
    }

    function ready() {
      if (!state.ready) {
        state.ready = call("POST", "/sessions", null, state.token).then(function (session) {
          if (session.token) { state.token = session.token; store(session.token); }
          state.online = session.online;
          state.email = session.email;
          if (session.name) nameInput.value = session.name;
          if (session.email) emailInput.value = session.email;
          showStatus();
          listen();
          return session;
        }, function (err) { state.ready = null; throw err; });
      }
      return state.ready;
    }

    function fail(err) {
      if (err.status === 429) error.textContent = t.rate_limited;
      else if (err.code === "email_required") { error.textContent = t.email_required; identify.hidden = false; state.online = false; showStatus(); emailInput.focus(); }
      else error.textContent = err.message || t.error;
    }

    function open() {
      panel.hidden = false;
      launcher.setAttribute("aria-expanded", "true");
      launcher.setAttribute("aria-label", t.close);
      textInput.focus();
      ready().catch(fail);
    }
    function shut() {
      panel.hidden = true;
      launcher.setAttribute("aria-expanded", "false");
      launcher.setAttribute("aria-label", t.open);
      launcher.focus();
    }
    launcher.addEventListener("click", function () { if (panel.hidden) open(); else shut(); });
    close.addEventListener("click", shut);
    panel.addEventListener("keydown", function (event) { if (event.key === "Escape") shut(); });

    compose.addEventListener("submit", function (event) {
      event.preventDefault();
      var text = textInput.value;
      if (!text.trim()) return;
      if (text.length > config.max_message_chars) { error.textContent = t.too_long.replace("{max}", config.max_message_chars); return; }
      error.textContent = "";
      send.disabled = true;
      ready().then(function () {
        return call("POST", "/messages", { text: text, client_id: newId() }, state.token);
      }).then(function () {
        textInput.value = "";
      }).catch(fail).then(function () { send.disabled = false; textInput.focus(); });
    });

    identify.addEventListener("submit", function (event) {
      event.preventDefault();
      var body = {};
      if (nameInput.value.trim()) body.name = nameInput.value.trim();
      if (emailInput.value.trim()) body.email = emailInput.value.trim();
      if (!body.name && !body.email) return;
      error.textContent = "";
      ready().then(function () { return call("POST", "/identify", body, state.token); }).then(function (session) {
        state.email = session.email;
        showStatus();
        if (session.name) {
          var thanks = el("div", { class: "line notice", "data-kind": "notice" }, t.saved.replace("{name}", session.name));
          log.appendChild(thanks);
        }
        textInput.focus();
      }).catch(fail);
    });
  }
})();
