// The console's behaviour: search results as you type, and a run's progress while it runs.
// Both fetch HTML the server rendered (and escaped) and put it in place; nothing else runs here.
"use strict";

(function searchAsYouType() {
  const form = document.getElementById("search");
  const results = document.getElementById("results");
  if (!form || !results) return;
  let sent = 0;
  let timer = null;
  async function refresh() {
    const params = new URLSearchParams(new FormData(form));
    const mine = ++sent;
    const response = await fetch("/search/results?" + params.toString(), { headers: { Accept: "text/html" } });
    if (mine !== sent) return; // a later keystroke's answer wins
    results.innerHTML = response.ok ? await response.text() : "<p class=\"error\">The search failed (" + response.status + ").</p>";
    history.replaceState(null, "", "/?" + params.toString());
  }
  function later() {
    clearTimeout(timer);
    timer = setTimeout(refresh, 120);
  }
  form.addEventListener("input", later);
  form.addEventListener("change", later);
  form.addEventListener("submit", (event) => { event.preventDefault(); refresh(); });
})();

(function runProgress() {
  const section = document.getElementById("run");
  if (!section) return;
  const run = section.dataset.run;
  async function poll() {
    const state = section.querySelector(".progress");
    if (state && state.dataset.finished === "true") return;
    const response = await fetch("/runs/" + encodeURIComponent(run) + "/progress", { headers: { Accept: "text/html" } });
    if (response.ok) section.innerHTML = await response.text();
    setTimeout(poll, 1000);
  }
  setTimeout(poll, 1000);
})();
