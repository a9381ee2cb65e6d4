// Klearly web UI: keyboard moves in the inbox, selection for bulk actions, filters that apply on change.
// Everything works without this file (plain links and forms); it only makes the common moves faster.
(function () {
  "use strict";

  // The cursor is kept by task id: rows are replaced when an action updates them.
  let cursorId = null;
  function rows() { return Array.from(document.querySelectorAll("#tasklist .task")); }
  function cursorRow() { return cursorId ? document.getElementById("task-" + cursorId) : null; }
  function typing(event) {
    const el = event.target;
    return el && (el.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(el.tagName));
  }

  let detailTimer = null;
  function loadDetail(row) {
    if (!row || !window.htmx) return;
    const pane = document.getElementById("detail");
    if (!pane || (pane.querySelector(".taskdetail") || {}).dataset?.task === row.dataset.task) return;
    clearTimeout(detailTimer);
    detailTimer = setTimeout(function () { htmx.ajax("GET", row.dataset.detailUrl, { target: "#detail" }); }, 120);
  }

  function setCursor(row, load) {
    cursorId = row ? row.dataset.task : null;
    rows().forEach(function (r) { r.classList.toggle("cursor", r === row); });
    if (!row) return;
    row.scrollIntoView({ block: "nearest" });
    if (load !== false) loadDetail(row);
  }

  function move(step) {
    const all = rows();
    if (!all.length) return;
    const index = all.indexOf(cursorRow());
    const next = all[Math.max(0, Math.min(all.length - 1, index < 0 ? 0 : index + step))];
    setCursor(next);
  }

  function updateBulk() {
    const bar = document.getElementById("bulk");
    if (!bar) return;
    const boxes = Array.from(document.querySelectorAll('#tasklist input[type=checkbox][name=task]'));
    const chosen = boxes.filter(function (b) { return b.checked; });
    boxes.forEach(function (b) { b.closest(".task").classList.toggle("selected", b.checked); });
    bar.classList.toggle("active", chosen.length > 0);
    const count = document.getElementById("bulk-count");
    if (count) count.textContent = chosen.length + " selected:";
  }

  // Focus a field of the detail pane once it shows the cursor's task (it may still be loading).
  function focusInDetail(selector) {
    const row = cursorRow();
    const pane = document.getElementById("detail");
    if (!pane) return;
    const ready = function () {
      const shown = pane.querySelector(".taskdetail");
      return shown && (!row || shown.dataset.task === row.dataset.task);
    };
    const go = function () {
      const field = pane.querySelector(selector);
      if (field) { field.focus(); field.scrollIntoView({ block: "nearest" }); }
    };
    if (ready()) { go(); return; }
    if (row && window.htmx) {
      clearTimeout(detailTimer);
      htmx.ajax("GET", row.dataset.detailUrl, { target: "#detail" }).then(go);
    }
  }

  function toggleHelp(open) {
    const help = document.getElementById("help");
    if (help) help.classList.toggle("open", open === undefined ? !help.classList.contains("open") : open);
  }

  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape") {
      toggleHelp(false);
      if (typing(event)) event.target.blur();
      return;
    }
    if (typing(event) || event.ctrlKey || event.metaKey || event.altKey) return;
    const inbox = document.getElementById("tasklist");
    const actions = {
      "?": function () { toggleHelp(); },
      "/": function () { const s = document.getElementById("f-search") || document.getElementById("quickfind"); if (s) s.focus(); },
    };
    if (inbox) {
      Object.assign(actions, {
        j: function () { move(1); },
        k: function () { move(-1); },
        x: function () {
          const row = cursorRow() || rows()[0];
          if (!row) return;
          setCursor(row, false);
          const box = row.querySelector("input[type=checkbox]");
          if (box && !box.disabled) { box.checked = !box.checked; updateBulk(); }
        },
        c: function () { focusInDetail('form[data-action=complete] select[name=outcome]'); },
        s: function () { focusInDetail('form[data-action=snooze] input[name=until]'); },
        d: function () { focusInDetail('form[data-action=dismiss] select[name=reason]'); },
        a: function () { focusInDetail('form[data-action=assign] select[name=assignee]'); },
        m: function () { const b = document.querySelector('#detail button[data-key=m]'); if (b) b.click(); },
        o: function () { const row = cursorRow(); if (row) window.location.href = row.dataset.accountUrl; },
        Enter: function () { const row = cursorRow(); if (row) window.location.href = row.dataset.accountUrl; },
      });
    }
    const action = actions[event.key];
    if (action) { event.preventDefault(); action(); }
  });

  document.addEventListener("click", function (event) {
    if (event.target.closest("[data-close-help]") || event.target.id === "help") toggleHelp(false);
    const row = event.target.closest("#tasklist .task");
    if (row && !event.target.closest("a, input, button")) setCursor(row);
    else if (row && event.target.closest("a.title")) setCursor(row, false);
  });

  document.addEventListener("change", function (event) {
    if (event.target.matches('#tasklist input[name=task]')) updateBulk();
    // Filters apply as soon as one changes (the Apply button stays for browsers without JavaScript).
    const filters = event.target.closest("form.filters, form.autosubmit");
    if (filters && event.target.tagName === "SELECT") filters.requestSubmit();
  });

  // After completing, dismissing or snoozing, move on to the next task: the inbox's rhythm.
  document.addEventListener("htmx:afterRequest", function (event) {
    // The form itself may already be swapped out: read the action from the request path.
    const path = (event.detail.pathInfo && event.detail.pathInfo.requestPath) || "";
    const done = /\/tasks\/\d+\/(complete|dismiss|snooze)\//.exec(path);
    if (!done || !event.detail.successful || event.detail.xhr.status !== 200) return;
    {
      const all = rows();
      const index = all.indexOf(cursorRow());
      const next = all.slice(index + 1).find(function (r) { return !r.classList.contains("closed"); });
      if (next) setTimeout(function () { setCursor(next); }, 300);
    }
  });

  function init() {
    updateBulk();
    const pane = document.querySelector("#detail .taskdetail");
    const row = cursorRow() || (pane && document.getElementById("task-" + pane.dataset.task));
    if (row) setCursor(row, false);
  }
  document.addEventListener("DOMContentLoaded", init);
  document.addEventListener("htmx:afterSettle", function (event) {
    if (event.detail.target === document.body) cursorId = null;
    init();
  });
})();

// On a narrow screen the detail pane sits below the list: open a task as its own page instead.
document.addEventListener("htmx:beforeRequest", function (event) {
  const link = event.detail.elt;
  if (link && link.matches && link.matches("a.title") && window.matchMedia("(max-width: 1180px)").matches) {
    event.preventDefault();
    window.location.href = link.href;
  }
});
