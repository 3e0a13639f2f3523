/* The inbox's live refresh and shortcuts (see cuida.js for the framework). */
(function () {
  "use strict";
  function selected() {
    return document.querySelector("#inbox-list input[data-kb-select]:checked");
  }
  function refresh() {
    // Never pull the rows out from under an agent who is ticking boxes for a bulk action.
    if (!selected() && window.htmx) window.htmx.trigger(document.body, "inbox:refresh");
  }
  document.body.addEventListener("cuida:event", function (e) {
    if (e.detail && e.detail.conversation_id) refresh();
  });
  document.body.addEventListener("cuida:live", function (e) {
    if (e.detail.connected) refresh(); // back after a disconnection: catch up at once
  });

  function act(action, item) {
    var body = new URLSearchParams();
    body.append("ids", item.getAttribute("data-id"));
    body.append("action", action);
    fetch("/inbox/bulk", {
      method: "POST",
      headers: { "X-CSRF-Token": Cuida.csrf(), "HX-Request": "true" },
      body: body,
      credentials: "same-origin",
    }).then(function (response) {
      if (response.ok) window.htmx.trigger(document.body, "inbox:refresh");
    });
  }
  Cuida.shortcuts.register("a", function (item) { act("assign_me", item); }, { list: true });
  Cuida.shortcuts.register("e", function (item) { act("close", item); }, { list: true });
  Cuida.shortcuts.register("r", function (item) {
    window.location.href = "/conversations/" + item.getAttribute("data-id") + "#reply";
  }, { list: true });
})();
