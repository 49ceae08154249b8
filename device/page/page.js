// The page works as plain HTML forms; this script only spares it full
// reloads: a consent switch posts in the background, and the page's parts
// are refreshed in place whenever the device's state changes.
(function () {
  'use strict';
  var token = document.querySelector('meta[name="tacit-token"]').content;
  var notice = document.getElementById('notice');
  var busy = false;

  function say(text) {
    notice.textContent = text;
    notice.hidden = !text;
  }

  // refresh fetches the page and swaps in the parts that changed.
  function refresh() {
    return fetch('/', { cache: 'no-store' }).then(function (r) {
      if (!r.ok) { throw new Error('the device answered ' + r.status); }
      return r.text();
    }).then(function (html) {
      var doc = new DOMParser().parseFromString(html, 'text/html');
      var focused = document.activeElement && document.activeElement.id;
      doc.querySelectorAll('[data-part]').forEach(function (fresh) {
        var old = document.getElementById(fresh.id);
        if (old && old.innerHTML !== fresh.innerHTML) {
          old.replaceWith(document.importNode(fresh, true));
        }
      });
      document.body.dataset.version = doc.body.dataset.version;
      if (focused && document.getElementById(focused) && document.activeElement !== document.getElementById(focused)) {
        document.getElementById(focused).focus();
      }
    });
  }

  document.addEventListener('submit', function (ev) {
    var form = ev.target;
    if (!form.matches('form.consent')) { return; }
    ev.preventDefault();
    var button = form.querySelector('.switch');
    if (button.getAttribute('aria-busy') === 'true') { return; }
    button.setAttribute('aria-busy', 'true');
    busy = true;
    fetch(form.action, {
      method: 'POST',
      headers: { 'X-Tacit-Token': token, 'Accept': 'application/json' },
      body: new URLSearchParams(new FormData(form))
    }).then(function (r) {
      if (!r.ok) {
        return r.text().then(function (t) { throw new Error(t.trim() || ('the device answered ' + r.status)); });
      }
      say('');
      return refresh();
    }).catch(function (err) {
      button.removeAttribute('aria-busy');
      say('Your choice was not saved: ' + err.message);
    }).then(function () { busy = false; });
  });

  // Poll the state's version, only while the page is seen.
  function poll() {
    if (document.hidden || busy) { return; }
    fetch('/state', { cache: 'no-store' }).then(function (r) {
      return r.ok ? r.json() : null;
    }).then(function (s) {
      if (s && s.version !== document.body.dataset.version) { return refresh(); }
    }).catch(function () { /* the device may be stopping: try again later */ });
  }
  setInterval(poll, 4000);
  document.addEventListener('visibilitychange', poll);
})();
