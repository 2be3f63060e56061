// Keep a page current while something on it is still in progress: poll the account's status and
// reload when it changes (a seller connected, a request expired). No reload while typing.
document.addEventListener("DOMContentLoaded", function () {
  var live = document.querySelector("[data-live-status]");
  if (!live) return;
  var url = live.dataset.liveStatus;
  var seen = null;
  function busy() {
    var el = document.activeElement;
    return el && (el.tagName === "INPUT" || el.tagName === "TEXTAREA" || el.tagName === "SELECT");
  }
  function check() {
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (text) {
        if (text === null) return;
        if (seen !== null && text !== seen && !busy()) { window.location.reload(); return; }
        seen = text;
      })
      .catch(function () {})
      .finally(function () { setTimeout(check, 3000); });
  }
  check();
});
