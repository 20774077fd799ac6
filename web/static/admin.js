// Onramp admin and support pages: live rep table, invitations, step reset
// and retry.
(function () {
  'use strict';
  var O = window.Onramp;
  var page = document.body.getAttribute('data-page');

  var STEP_TITLES = {
    account: 'Access your account',
    calendar: 'Connect your calendar',
    profile: 'Personalize your profile',
    meeting: 'Add your meeting details',
    crm: 'Connect to Salesforce',
    availability: 'Configure calendar settings',
    notifications: 'Customize notifications',
    browser: 'Enable browser notifications, camera and microphone',
    apps: 'Download the desktop & mobile apps',
    finish: 'Learn more'
  };
  function stepTitle(k) { return STEP_TITLES[k] || k || '—'; }
  function capitalize(s) { s = String(s || ''); return s.charAt(0).toUpperCase() + s.slice(1); }

  function el(tag, attrs, children) {
    var e = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (k === 'text') e.textContent = attrs[k];
      else if (k === 'className') e.className = attrs[k];
      else e.setAttribute(k, attrs[k]);
    });
    (children || []).forEach(function (c) { if (c) e.appendChild(c); });
    return e;
  }

  // ---- admin: rep table ------------------------------------------------------

  function repRow(r) {
    var stuck = r.stuck_steps || [];
    var tr = el('tr', { 'data-rep-id': r.id, 'data-status': r.status || '', 'data-step-status': r.step_status || '' });
    if (stuck.length) tr.className = 'is-stuck';
    var since = r.since ? new Date(r.since) : null;
    var statusCell = el('td', {}, [el('span', { className: 'badge', 'data-status': r.step_status || '', text: O.statusLabel(r.step_status) })]);
    if (stuck.length) statusCell.appendChild(el('span', { className: 'stuck-steps', text: 'Stuck: ' + stuck.map(stepTitle).join(', ') }));
    tr.appendChild(el('td', {}, [el('a', { href: '/admin/reps/' + encodeURIComponent(r.id), text: r.name })]));
    tr.appendChild(el('td', { text: r.email }));
    tr.appendChild(el('td', {}, [el('span', { className: 'pill', 'data-user-status': r.status || '', text: capitalize(r.status) })]));
    tr.appendChild(el('td', { text: r.current_step ? stepTitle(r.current_step) : '—' }));
    tr.appendChild(statusCell);
    tr.appendChild(el('td', {}, [since && !isNaN(since)
      ? el('time', { datetime: r.since, 'data-relative': '', text: O.relativeTime(since) })
      : el('span', { text: '—' })]));
    return tr;
  }

  function renderReps(reps) {
    var body = document.getElementById('reps-body');
    if (!body || !Array.isArray(reps)) return;
    var frag = document.createDocumentFragment();
    if (reps.length === 0) {
      frag.appendChild(el('tr', { className: 'empty' }, [el('td', { colspan: '6', text: 'No reps yet. Invite one.' })]));
    }
    reps.forEach(function (r) { frag.appendChild(repRow(r)); });
    body.replaceChildren ? body.replaceChildren(frag) : (body.innerHTML = '', body.appendChild(frag));
  }

  function debounce(fn, ms) {
    var t = null;
    return function () { if (t) return; t = setTimeout(function () { t = null; fn(); }, ms); };
  }

  if (page === 'admin') {
    var refreshReps = debounce(function () {
      O.api('GET', '/api/v1/admin/reps').then(renderReps, function () { /* keep the table */ });
    }, 200);
    O.events(function () { refreshReps(); });

    var invite = document.getElementById('invite-form');
    invite.addEventListener('submit', function (e) {
      e.preventDefault();
      var button = document.getElementById('invite-submit');
      var body = { name: document.getElementById('invite-name').value.trim(), email: document.getElementById('invite-email').value.trim() };
      O.clearErrors(invite);
      O.setBusy(button, true);
      O.api('POST', '/api/v1/admin/reps', body).then(function () {
        O.flash('Invitation sent to ' + body.email + '.', true);
        O.navigate(window.location.href);
      }, function (err) {
        O.setBusy(button, false);
        O.showErrors(invite, err);
      });
    });
  }

  // ---- admin: API keys ------------------------------------------------------

  function when(iso) {
    var d = iso ? new Date(iso) : null;
    if (!d || isNaN(d)) return el('span', { text: '—' });
    return el('time', { datetime: iso, title: d.toLocaleString(), 'data-relative': '', text: O.relativeTime(d) });
  }

  function keyRow(k) {
    var tr = el('tr', { 'data-key-id': k.id, 'data-revoked': k.revoked_at ? 'true' : 'false' });
    tr.appendChild(el('td', { text: k.name }));
    tr.appendChild(el('td', {}, [el('code', { text: '…' + (k.hint || '') })]));
    tr.appendChild(el('td', {}, [when(k.created_at)]));
    tr.appendChild(el('td', {}, [k.last_used_at ? when(k.last_used_at) : el('span', { text: 'Never' })]));
    var status = el('td');
    if (k.revoked_at) {
      status.appendChild(el('span', { className: 'badge', 'data-status': 'stuck', text: 'Revoked' }));
      status.appendChild(document.createTextNode(' '));
      status.appendChild(when(k.revoked_at));
    } else {
      status.appendChild(el('span', { className: 'badge', 'data-status': 'done', text: 'Active' }));
      status.appendChild(document.createTextNode(' '));
      status.appendChild(el('button', { type: 'button', className: 'button-small', 'data-revoke-key': k.id, 'aria-label': 'Revoke the key ' + k.name, text: 'Revoke' }));
    }
    tr.appendChild(status);
    return tr;
  }

  function loadKeys() {
    var body = document.getElementById('keys-body');
    var errBox = document.getElementById('keys-error');
    return O.api('GET', '/api/v1/admin/api-keys').then(function (r) {
      errBox.textContent = '';
      var keys = (r && r.keys) || [];
      var frag = document.createDocumentFragment();
      if (keys.length === 0) frag.appendChild(el('tr', { className: 'empty' }, [el('td', { colspan: '5', text: 'No keys yet. Create one for your website.' })]));
      keys.forEach(function (k) { frag.appendChild(keyRow(k)); });
      body.replaceChildren(frag);
    }, function (err) {
      errBox.textContent = err.message || 'Could not load the API keys.';
    });
  }

  function setupKeys() {
    var form = document.getElementById('key-form');
    if (!form) return;
    var box = document.getElementById('new-key');
    var value = document.getElementById('new-key-value');
    var copy = document.getElementById('new-key-copy');
    form.addEventListener('submit', function (e) {
      e.preventDefault();
      var button = document.getElementById('key-submit');
      var name = document.getElementById('key-name').value.trim();
      O.clearErrors(form);
      box.hidden = true;
      O.setBusy(button, true);
      O.api('POST', '/api/v1/admin/api-keys', { name: name }, O.idempotencyKey(form)).then(function (k) {
        O.setBusy(button, false);
        O.resetIdempotencyKey(form);
        form.reset();
        document.getElementById('new-key-name').textContent = k.name;
        value.textContent = k.key;
        copy.textContent = 'Copy';
        box.hidden = false;
        copy.focus();
        loadKeys();
      }, function (err) {
        O.setBusy(button, false);
        O.showErrors(form, err);
      });
    });
    copy.addEventListener('click', function () {
      var text = value.textContent;
      var selectIt = function () {
        var r = document.createRange();
        r.selectNodeContents(value);
        var sel = window.getSelection();
        sel.removeAllRanges();
        sel.addRange(r);
        copy.textContent = 'Selected: press Ctrl+C';
      };
      if (navigator.clipboard && navigator.clipboard.writeText) {
        navigator.clipboard.writeText(text).then(function () { copy.textContent = 'Copied'; }, selectIt);
      } else selectIt();
    });
    document.getElementById('keys-body').addEventListener('click', function (e) {
      var b = e.target instanceof Element ? e.target.closest('[data-revoke-key]') : null;
      if (!b) return;
      var row = b.closest('tr');
      var name = row ? row.firstChild.textContent : '';
      if (!window.confirm('Revoke the key “' + name + '”? Websites using it can no longer send visitor events.')) return;
      O.setBusy(b, true);
      O.api('DELETE', '/api/v1/admin/api-keys/' + encodeURIComponent(b.getAttribute('data-revoke-key'))).then(function () {
        O.flash('Key “' + name + '” revoked.');
        loadKeys();
      }, function (err) {
        O.setBusy(b, false);
        document.getElementById('keys-error').textContent = err.message || 'Could not revoke the key.';
      });
    });
    loadKeys();
  }

  if (page === 'admin') setupKeys();

  // ---- admin_rep: reset ------------------------------------------------------

  if (page === 'admin_rep') {
    var head = document.getElementById('rep-head');
    var repID = head && head.getAttribute('data-rep-id');
    var errBox = document.getElementById('rep-error');
    document.querySelectorAll('[data-reset-step]').forEach(function (b) {
      b.addEventListener('click', function () {
        var step = b.getAttribute('data-reset-step');
        errBox.textContent = '';
        O.setBusy(b, true);
        O.api('POST', '/api/v1/admin/reps/' + encodeURIComponent(repID) + '/steps/' + encodeURIComponent(step) + '/reset', {}).then(function () {
          O.flash('Step “' + stepTitle(step) + '” was reset.', true);
          O.navigate(window.location.href);
        }, function (err) {
          O.setBusy(b, false);
          errBox.textContent = err.message || 'Could not reset the step.';
        });
      });
    });
    O.events(function (type, ev) {
      if (ev.rep_id && ev.rep_id !== repID) return;
      var n = document.getElementById('rep-updated');
      if (n) n.hidden = false;
    });
  }

  // ---- support: retry ------------------------------------------------------

  if (page === 'support') {
    var sErr = document.getElementById('support-error');
    document.querySelectorAll('[data-retry-step]').forEach(function (b) {
      b.addEventListener('click', function () {
        var rep = b.getAttribute('data-retry-rep');
        var step = b.getAttribute('data-retry-step');
        sErr.textContent = '';
        O.setBusy(b, true);
        O.api('POST', '/api/v1/support/reps/' + encodeURIComponent(rep) + '/steps/' + encodeURIComponent(step) + '/retry', {}).then(function () {
          var row = b.closest('tr');
          if (row) row.setAttribute('data-retried', 'true');
          b.textContent = 'Retrying…';
          b.removeAttribute('aria-busy');
          O.flash('Retrying “' + stepTitle(step) + '”.');
        }, function (err) {
          O.setBusy(b, false);
          sErr.textContent = err.message || 'Could not retry the step.';
        });
      });
    });
    O.events(function () {
      var n = document.getElementById('support-updated');
      if (n) n.hidden = false;
    });
  }
})();
