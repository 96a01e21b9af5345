// distilsec review page: keyboard shortcuts and the JSON calls that append to the label ledger.
// Item text is never touched here: the server renders it as text. This script only reads data-*
// attributes and writes textContent (never innerHTML), so nothing in an item can become markup.
"use strict";

(function () {
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const item = document.getElementById("item");
  const flash = document.getElementById("flash");
  let busy = false;

  function say(message, isError) {
    flash.textContent = message;
    flash.hidden = false;
    flash.className = isError ? "flash error" : "flash";
  }

  async function post(path, body) {
    const response = await fetch(path, {
      method: "POST",
      headers: {"Content-Type": "application/json", "X-CSRF-Token": csrf},
      body: JSON.stringify(body),
      credentials: "same-origin",
    });
    let data = {};
    try { data = await response.json(); } catch (e) { data = {}; }
    return {status: response.status, data: data};
  }

  function detail(data) {
    if (typeof data.detail === "string") return data.detail;
    if (Array.isArray(data.detail)) return data.detail.map((d) => d.msg).join("; ");
    return "request refused";
  }

  function go(id) {
    window.location.assign(id ? "/item/" + encodeURIComponent(id) : "/");
  }

  async function decide(action, label) {
    if (!item || busy) return;
    busy = true;
    const note = document.getElementById("note").value;
    const body = {item: item.dataset.item, action: action, note: note, expect: item.dataset.expect};
    if (label !== undefined) body.label = label;
    try {
      const r = await post("/api/decision", body);
      if (r.status === 200) {
        if (action === "note") { window.location.reload(); return; }
        say(action === "label" ? "saved: " + label : "skipped");
        go(r.data.next);
        return;
      }
      if (r.status === 409) {
        say("This item changed in another tab or by another analyst: " + detail(r.data) + ". Reload to see it.", true);
      } else {
        say("Not saved: " + detail(r.data), true);
      }
    } catch (e) {
      say("Not saved: the review server did not answer (" + e + ")", true);
    }
    busy = false;
  }

  async function undo(entry) {
    if (busy) return;
    busy = true;
    try {
      const r = await post("/api/undo", entry ? {entry: entry} : {});
      if (r.status === 200) {
        say("undone");
        go(r.data.item);
        return;
      }
      say("Nothing undone: " + detail(r.data), true);
    } catch (e) {
      say("Nothing undone: the review server did not answer (" + e + ")", true);
    }
    busy = false;
  }

  const byKey = {};
  document.querySelectorAll(".label-btn").forEach((button) => {
    button.addEventListener("click", () => decide("label", button.dataset.label));
    (button.dataset.key || "").split(" ").filter(Boolean).forEach((k) => { byKey[k] = button.dataset.label; });
  });
  document.querySelectorAll(".undo-entry").forEach((button) => {
    button.addEventListener("click", () => undo(button.dataset.entry));
  });
  const on = (id, handler) => { const el = document.getElementById(id); if (el) el.addEventListener("click", handler); };
  on("skip-btn", () => decide("skip"));
  on("note-btn", () => decide("note"));
  on("undo-btn", () => undo(null));
  on("help-link", (event) => { event.preventDefault(); toggleHelp(); });

  function toggleHelp() {
    const help = document.getElementById("help");
    help.hidden = !help.hidden;
  }

  document.addEventListener("keydown", (event) => {
    const target = event.target;
    const typing = target && (target.tagName === "TEXTAREA" || target.tagName === "INPUT");
    if (typing) {
      if (event.key === "Escape") target.blur();
      if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) { event.preventDefault(); decide("note"); }
      return;
    }
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    const key = event.key;
    if (key === "?") { toggleHelp(); return; }
    if (key === "u") { event.preventDefault(); undo(null); return; }
    if (!item) return;
    if (byKey[key] !== undefined) { event.preventDefault(); decide("label", byKey[key]); return; }
    if (key === "s") { event.preventDefault(); decide("skip"); return; }
    if (key === "n") { event.preventDefault(); document.getElementById("note").focus(); return; }
    if (key === "j" || key === "ArrowRight") { event.preventDefault(); go(item.dataset.forward); return; }
    if (key === "k" || key === "ArrowLeft") { event.preventDefault(); go(item.dataset.prev); return; }
  });
})();
