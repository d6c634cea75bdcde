// The index's filter: by text, by status, by QA flag, in the page itself (it works opened
// from disk, with no server). The only script of the site; the page's CSP allows exactly
// this text (by its hash), so nothing else could run. It reads no data but the rows'
// data-* attributes, which the page escaped. A filter can be given in the address:
// index.html#q=Messe&status=translated&flag=term_missing
(function () {
  "use strict";
  var form = document.getElementById("filter");
  if (!form) { return; }
  var text = document.getElementById("filter-text");
  var status = document.getElementById("filter-status");
  var flag = document.getElementById("filter-flag");
  var count = document.getElementById("filter-count");
  var rows = Array.prototype.slice.call(
    document.querySelectorAll("table.releases tbody tr[data-status]"));
  function apply() {
    var words = text.value.toLowerCase().split(/\s+/).filter(Boolean);
    var shown = 0;
    rows.forEach(function (row) {
      var flags = " " + row.getAttribute("data-flags") + " ";
      var haystack = row.getAttribute("data-text");
      var keep = (!status.value || row.getAttribute("data-status") === status.value) &&
        (!flag.value || flags.indexOf(" " + flag.value + " ") >= 0) &&
        words.every(function (word) { return haystack.indexOf(word) >= 0; });
      row.hidden = !keep;
      if (keep) { shown += 1; }
    });
    count.textContent = shown + " of " + rows.length + " releases shown";
  }
  var given = new URLSearchParams(window.location.hash.slice(1));
  text.value = given.get("q") || "";
  status.value = given.get("status") || "";
  flag.value = given.get("flag") || "";
  [text, status, flag].forEach(function (field) {
    field.addEventListener("input", apply);
    field.addEventListener("change", apply);
  });
  form.addEventListener("submit", function (event) { event.preventDefault(); });
  form.hidden = false;
  apply();
}());
