/* Times in the reader's own time zone, with UTC beside them.
 *
 * Every time on a page is a <time datetime="...Z"> element whose text the server wrote in
 * UTC (or Japan time on Japanese pages). Here each is rewritten in the browser's zone, named
 * ("GMT+1", "EST", "JST"), with the UTC time beside it. Without script the server's text stays.
 * The script tag's data-pattern is the page language's "{local} ({utc})".
 */
(function () {
  "use strict";
  var script = document.currentScript;
  var pattern = (script && script.dataset.pattern) || "{local} ({utc})";
  var lang = document.documentElement.lang || "en";
  var zone = Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
  var isUtc = /^(Etc\/)?(UTC|GMT|UCT|Universal|Zulu)$/.test(zone);
  var dateParts = { year: "numeric", month: "short", day: "numeric" };
  var timeParts = { hour: "numeric", minute: "2-digit", second: "2-digit", timeZoneName: "short" };

  function formatter(timeZone, withDate) {
    var options = { timeZone: timeZone };
    var parts = withDate ? [dateParts, timeParts] : [timeParts];
    parts.forEach(function (part) {
      Object.keys(part).forEach(function (key) { options[key] = part[key]; });
    });
    return new Intl.DateTimeFormat(lang, options);
  }

  function day(date, timeZone) {
    return new Intl.DateTimeFormat("en", {
      timeZone: timeZone, year: "numeric", month: "numeric", day: "numeric"
    }).format(date);
  }

  function rewrite(element) {
    var date = new Date(element.getAttribute("datetime"));
    if (isNaN(date.getTime())) {
      return;
    }
    var utc = formatter("UTC", isUtc || day(date, zone) !== day(date, "UTC")).format(date);
    element.textContent = isUtc ? utc : pattern
      .replace("{local}", formatter(zone, true).format(date))
      .replace("{utc}", utc);
    element.dataset.zone = zone;
  }

  try {
    Array.prototype.forEach.call(document.querySelectorAll("time[datetime]"), rewrite);
  } catch (error) {
    // An unknown zone or an old browser: the server's text stays, which is right too.
  }
})();
