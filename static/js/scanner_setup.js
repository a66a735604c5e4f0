// Scanner setup: record every key a scan produces (character, physical key, code point) and ask the server
// what the scan means (suffix, AIM prefix, keyboard layout). A scan ends with Enter, Tab or a short pause.
(function () {
  "use strict";
  const root = document.querySelector(".setup");
  const probe = document.getElementById("probe");
  const verdict = document.getElementById("verdict");
  const advice = document.getElementById("advice");
  const table = document.getElementById("keys");
  const body = table.querySelector("tbody");
  const result = document.getElementById("result");
  const csrf = document.querySelector("input[name=csrf_token]");
  let events = [];
  let timer = null;

  function hex(ch) { return ch.codePointAt(0).toString(16).toUpperCase().padStart(2, "0"); }

  function row(cells) {
    const tr = document.createElement("tr");
    for (const text of cells) { const td = document.createElement("td"); td.textContent = text; tr.append(td); }
    return tr;
  }

  async function finish(suffix) {
    window.clearTimeout(timer);
    const typed = events.filter((e) => e.key.length === 1).map((e) => e.key).join("");
    const keys = events.slice();
    events = [];
    probe.value = "";
    if (!typed) { return; }
    body.replaceChildren(...keys.map((e, i) => row([
      String(i + 1), e.key.length === 1 ? e.key : "", e.key.length === 1 ? hex(e.key) : (e.key === "Enter" ? "0D" : e.key === "Tab" ? "09" : ""),
      e.code || "?", e.key.length === 1 ? "" : e.key.toUpperCase()])));
    table.hidden = false;
    const headers = {"Content-Type": "application/json", "Accept": "application/json"};
    if (csrf) { headers["X-CSRFToken"] = csrf.value; }
    const response = await fetch(root.dataset.api, {method: "POST", headers, credentials: "same-origin",
      body: JSON.stringify({text: typed, suffix: suffix})});
    const data = await response.json();
    result.className = "feedback " + (data.accession && data.advice.length === 1 && !data.symbology && data.suffix ? "ok" : "bad");
    verdict.textContent = data.accession ? "Read " + data.accession + (data.suffix ? ", ended by " + data.suffix : ", with no Enter or Tab after it")
      : "Not readable: " + (data.problem || "unknown problem");
    advice.replaceChildren(...data.advice.map((text) => { const li = document.createElement("li"); li.textContent = text; return li; }));
    result.dataset.done = String(Number(result.dataset.done || "0") + 1);
    probe.focus();
  }

  probe.addEventListener("keydown", (event) => {
    events.push({key: event.key, code: event.code});
    if (event.key === "Enter" || event.key === "Tab") {
      event.preventDefault();
      events.pop();
      events.push({key: event.key, code: event.code});
      finish(event.key);
      return;
    }
    window.clearTimeout(timer);
    timer = window.setTimeout(() => finish(null), 400);
  });
})();
