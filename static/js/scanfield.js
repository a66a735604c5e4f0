// Scan fields (input[data-scan]): a USB keyboard-wedge scanner types the code, then Enter or Tab.
// Enter and Tab both end a scan and submit the field's form; focus stays in the field for the next tube.
// A fast burst of keys (a scanner, not a person) that loses the focus some other way still counts as a scan,
// so a Tab-suffixed scan is never silently left behind in a field the focus has moved away from.
(function () {
  "use strict";
  const SCANNER_MS = 35;  // scanners type a key every few ms; people take 100 ms or more

  function looksScanned(times) {
    if (times.length < 6) { return false; }
    const span = times[times.length - 1] - times[0];
    return span / (times.length - 1) < SCANNER_MS;
  }

  function attach(input) {
    let times = [];
    const submit = () => {
      times = [];
      if (!input.value.trim()) { return; }
      if (input.form.requestSubmit) { input.form.requestSubmit(); } else { input.form.submit(); }
    };
    input.addEventListener("keydown", (event) => {
      if (event.key === "Enter" || (event.key === "Tab" && !event.shiftKey && input.value.trim())) {
        event.preventDefault();
        submit();
        input.focus();
        return;
      }
      if (event.key.length === 1) {
        times.push(performance.now());
        if (times.length > 80) { times.shift(); }
      }
    });
    input.addEventListener("input", () => { if (!input.value) { times = []; } });
    input.addEventListener("blur", () => {
      if (input.value.trim() && looksScanned(times)) {
        submit();
        window.setTimeout(() => input.focus(), 0);
      }
    });
  }

  for (const input of document.querySelectorAll("input[data-scan]")) { attach(input); }
})();
