// /join follows address changes: every few seconds ask /join.json for the URL this
// screen should show, and reload the page when it differs (a DHCP renewal, a new
// network). Served as a file because the kiosk's pages allow no inline script.
(function () {
  'use strict';
  var shown = document.body.getAttribute('data-url');
  var period = 5000;
  function check() {
    fetch('/join.json', { cache: 'no-store' })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (data) {
        if (data && data.url && data.url !== shown) { window.location.reload(); }
      })
      .catch(function () { /* kiosk restarting or network changing: try again */ })
      .then(function () { window.setTimeout(check, period); });
  }
  window.setTimeout(check, period);
}());
