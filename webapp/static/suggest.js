// Type-ahead for the search box, following the ARIA combobox pattern (an input with
// role=combobox, a listbox popup, aria-activedescendant for the highlighted option and a
// polite live region). Optional: the page works without it, and a plain form submit is
// always the way to search. A suggestion that is one article's title opens that article.
(function () {
  "use strict";
  var input = document.getElementById("q");
  var list = document.getElementById("q-suggestions");
  var status = document.getElementById("q-status");
  if (!input || !list || !status || !window.fetch || !window.AbortController) return;
  var url = input.getAttribute("data-suggest-url") || "/api/suggest";
  var active = -1, timer = null, lastQuery = "", controller = null, shown = [];

  function options() { return list.querySelectorAll("[role=option]"); }

  function close() {
    list.hidden = true;
    list.textContent = "";
    input.setAttribute("aria-expanded", "false");
    input.removeAttribute("aria-activedescendant");
    active = -1;
    lastQuery = "";
  }

  function select(index) {
    var opts = options();
    if (!opts.length) return;
    active = (index + opts.length) % opts.length;
    for (var i = 0; i < opts.length; i++) {
      opts[i].setAttribute("aria-selected", i === active ? "true" : "false");
    }
    input.setAttribute("aria-activedescendant", opts[active].id);
  }

  function choose(item) {
    input.value = item.text;
    close();
    status.textContent = "";
    // Only a same-site path (the API's own article address) is followed.
    if (item.article && item.article.charAt(0) === "/" && item.article.charAt(1) !== "/") {
      var joint = item.article.indexOf("?") < 0 ? "?" : "&";
      window.location.assign(item.article + joint + "q=" + encodeURIComponent(item.text));
    } else {
      input.form.submit();
    }
  }

  function show(items) {
    list.textContent = "";
    shown = items;
    items.forEach(function (item, i) {
      var li = document.createElement("li");
      li.id = "q-opt-" + i;
      li.setAttribute("role", "option");
      li.setAttribute("aria-selected", "false");
      li.textContent = item.text;
      if (item.article) {
        var go = document.createElement("span");
        go.className = "go";
        go.textContent = " – article";
        li.appendChild(go);
      }
      // mousedown, not click: it comes before the input's blur closes the list.
      li.addEventListener("mousedown", function (ev) { ev.preventDefault(); choose(item); });
      list.appendChild(li);
    });
    var any = items.length > 0;
    list.hidden = !any;
    input.setAttribute("aria-expanded", any ? "true" : "false");
    input.removeAttribute("aria-activedescendant");
    status.textContent = any
      ? items.length + (items.length === 1 ? " suggestion" : " suggestions") +
        ". Use the up and down arrows to pick one."
      : "";
    active = -1;
  }

  function fetchSuggestions() {
    var text = input.value.trim();
    if (text.length < 2) { close(); return; }
    if (text === lastQuery) return;
    lastQuery = text;
    if (controller) controller.abort();
    controller = new AbortController();
    fetch(url + "?q=" + encodeURIComponent(text), {
      signal: controller.signal, headers: { Accept: "application/json" }
    })
      .then(function (r) { return r.ok ? r.json() : { items: [] }; })
      .then(function (data) {
        if (input.value.trim() === text && document.activeElement === input) {
          show((data.items || []).filter(function (item) {
            return item && typeof item.text === "string";
          }));
        }
      })
      .catch(function () { /* type-ahead is optional: stay quiet */ });
  }

  input.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(fetchSuggestions, 150);
  });
  input.addEventListener("keydown", function (ev) {
    if (list.hidden) {
      if (ev.key === "ArrowDown" && !ev.altKey) { lastQuery = ""; fetchSuggestions(); }
      return;
    }
    if (ev.key === "ArrowDown") { ev.preventDefault(); select(active + 1); }
    else if (ev.key === "ArrowUp") { ev.preventDefault(); select(active - 1); }
    else if (ev.key === "Escape") { ev.preventDefault(); close(); status.textContent = ""; }
    else if (ev.key === "Enter" && active >= 0) {
      ev.preventDefault();
      choose(shown[active]);
    }
  });
  input.addEventListener("blur", function () { setTimeout(close, 150); });
  // Coming back to the page from history: no stale list.
  window.addEventListener("pageshow", close);
})();
