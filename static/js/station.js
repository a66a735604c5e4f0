// Scan station: a USB scanner types the code and Enter (or Tab) into the always-focused field;
// scanfield.js turns Enter/Tab into a submit of the form, handled here.
(function () {
  "use strict";
  const root = document.querySelector(".station");
  const api = root.dataset.api;
  const form = document.getElementById("scan-form");
  const input = document.getElementById("scan");
  const text = document.getElementById("text");
  const batchBox = document.getElementById("batch-mode");
  const feedback = document.getElementById("feedback");
  const message = document.getElementById("feedback-message");
  const facts = document.getElementById("facts");
  const batchSection = document.getElementById("batch");
  const batchList = document.getElementById("batch-list");
  const batchCount = document.getElementById("batch-count");
  const csrf = document.querySelector("input[name=csrf_token]");
  let batch = [];

  const FACT_LABELS = [["accession", "Accession"], ["participant", "Participant"], ["timepoint", "Time point"],
    ["sample_type", "Type"], ["status_label", "Status"], ["quantity", "Quantity"], ["freeze_thaw_count", "Freeze–thaw"],
    ["sprec", "SPREC"], ["location", "Location"]];

  function mode() { return form.querySelector("input[name=mode]:checked").value; }

  function show(ok, msg, sample) {
    feedback.className = "feedback " + (ok ? "ok" : "bad");
    message.textContent = (ok ? "✔ " : "✖ ") + msg;
    facts.replaceChildren();
    if (sample) {
      for (const [key, label] of FACT_LABELS) {
        let value = sample[key];
        if (key === "quantity" && value !== null) { value = value + " " + sample.unit; }
        const dt = document.createElement("dt"); dt.textContent = label;
        const dd = document.createElement("dd"); dd.textContent = value === null || value === undefined ? "—" : value;
        facts.append(dt, dd);
      }
    }
    facts.hidden = !sample;
  }

  async function post(path, body) {
    const headers = {"Content-Type": "application/json", "Accept": "application/json"};
    if (csrf) { headers["X-CSRFToken"] = csrf.value; }
    const response = await fetch(api + path, {method: "POST", headers, body: JSON.stringify(body), credentials: "same-origin"});
    let data = {};
    try { data = await response.json(); } catch (e) { data = {message: "The server answered " + response.status}; }
    if (!response.ok) {
      let msg = data.message || ("Refused (" + response.status + ")");
      if (data.errors && data.errors.json) { msg = Object.values(data.errors.json).join("; "); }
      throw new Error(msg);
    }
    return data;
  }

  function renderBatch() {
    batchList.replaceChildren(...batch.map((item) => {
      const li = document.createElement("li");
      li.textContent = item.code + " · " + (item.sample ? item.sample.participant + " · " + item.sample.sample_type : "");
      return li;
    }));
    batchCount.textContent = String(batch.length);
  }

  // Scans are queued, never dropped: a scanner can type the next code before the server has answered.
  let queue = Promise.resolve();
  function onScan(raw) {
    const code = raw.trim();
    input.value = "";
    input.focus();
    if (!code) { return; }
    queue = queue.then(() => handle(code));
  }

  async function handle(code) {
    try {
      if (batchBox.checked) {
        const result = await post("/check", {code, mode: mode(), text: text.value || null, batch: batch.map((b) => b.code)});
        batch.push({code: result.code, sample: result.sample});
        renderBatch();
        show(true, "Added " + result.code + " to the batch (" + batch.length + ")", result.sample);
      } else {
        const path = mode() === "lookup" ? "/lookup" : "/scan";
        const result = await post(path, {code, mode: mode(), text: text.value || null});
        show(true, result.code + ": " + result.message, result.sample);
      }
    } catch (err) {
      show(false, err.message, null);
    }
    feedback.dataset.handled = String(Number(feedback.dataset.handled || "0") + 1);
  }

  form.addEventListener("submit", (event) => { event.preventDefault(); onScan(input.value); });
  batchBox.addEventListener("change", () => { batchSection.hidden = !batchBox.checked; input.focus(); });
  document.getElementById("batch-clear").addEventListener("click", () => { batch = []; renderBatch(); input.focus(); });
  document.getElementById("batch-apply").addEventListener("click", async () => {
    try {
      const result = await post("/batch", {codes: batch.map((b) => b.code), mode: mode(), text: text.value || null});
      show(true, "Applied " + mode().replace("_", " ") + " to " + result.applied + " samples", null);
      batch = []; renderBatch();
    } catch (err) {
      show(false, err.message, null);
    }
    input.focus();
  });
  // Keep the scan field focused so a scanner never types into the wrong place.
  document.addEventListener("click", (event) => {
    if (!event.target.closest("input, button, label, select, textarea, a")) { input.focus(); }
  });
  for (const radio of form.querySelectorAll("input[name=mode]")) {
    radio.addEventListener("change", () => input.focus());
  }
})();
