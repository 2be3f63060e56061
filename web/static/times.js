// Show each <time data-local> (made by the local_time filter) in the viewer's own time zone, with
// the zone's name: the page says UTC until this runs, and the title keeps UTC for hover.
// Relative times ("5 minutes ago") keep their words and show the local time on hover instead.
(function () {
  function localise() {
    var format = new Intl.DateTimeFormat(undefined, {
      year: "numeric", month: "short", day: "numeric",
      hour: "numeric", minute: "2-digit", timeZoneName: "short"
    });
    document.querySelectorAll("time[data-local]:not([data-localised])").forEach(function (el) {
      var moment = new Date(el.getAttribute("datetime"));
      if (isNaN(moment.getTime())) return;
      var local = format.format(moment);
      if (el.hasAttribute("data-relative")) el.title = local + " (" + el.title + ")";
      else el.textContent = local;
      el.setAttribute("data-localised", "");
    });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", localise);
  else localise();
})();
