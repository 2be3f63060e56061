// Keep a page current while something on it is still in progress: poll the account's status and
// reload when it differs from the state the page was rendered with (data-live-version), so a
// change that lands between rendering and the first poll is shown too. No reload while typing.
document.addEventListener("DOMContentLoaded", function () {
  var live = document.querySelector("[data-live-status]");
  if (!live) return;
  var url = live.dataset.liveStatus;
  var rendered = live.dataset.liveVersion;
  function busy() {
    var el = document.activeElement;
    return el && (el.tagName === "INPUT" || el.tagName === "TEXTAREA" || el.tagName === "SELECT");
  }
  function check() {
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (state) {
        if (state && state.version !== rendered && !busy()) { window.location.reload(); return; }
      })
      .catch(function () {})
      .finally(function () { setTimeout(check, 3000); });
  }
  check();
});
