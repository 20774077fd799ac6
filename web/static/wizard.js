// Onramp wizard and settings page: submits each form to the JSON API (the
// form's action), shows field errors, and in the wizard moves on to the
// next step that is not complete and keeps the step list live from the
// server-sent events; on the settings page it stays and says "Saved".
(function () {
  'use strict';
  var O = window.Onramp;
  var BASE = '/api/v1/reps/me/onboarding';
  var onSettings = document.body.getAttribute('data-page') === 'settings';
  var list = document.getElementById('step-list');
  var panel = document.getElementById('step-panel');
  if (!list || (!panel && !onSettings)) return;
  var stepKey = panel ? panel.getAttribute('data-step') : '';
  var stepTitle = (document.getElementById('step-heading') || {}).textContent || '';

  // ---- step list ---------------------------------------------------------

  function applyProgress(p) {
    if (!p || !p.steps) return;
    var done = 0;
    p.steps.forEach(function (s) {
      if (s.status === 'done' || s.status === 'skipped') done++;
      var li = list.querySelector('li[data-step="' + s.key + '"]');
      if (!li) return;
      li.setAttribute('data-status', s.status);
      var badge = li.querySelector('[data-badge]');
      if (badge) badge.textContent = O.statusLabel(s.status);
      if (panel && s.key === stepKey) {
        panel.setAttribute('data-status', s.status);
        var st = document.getElementById('step-status');
        if (st) { st.textContent = O.statusLabel(s.status); st.setAttribute('data-status', s.status); }
      }
    });
    var bar = document.getElementById('progress-bar');
    if (bar) { bar.value = done; bar.textContent = Math.round(done * 100 / p.steps.length) + '%'; }
    var count = document.getElementById('progress-count');
    if (count) count.textContent = String(done);
    list.setAttribute('data-current-step', p.current_step || '');
    list.setAttribute('data-finished', p.finished ? 'true' : 'false');
  }

  function refresh() {
    return O.api('GET', BASE).then(applyProgress, function () { /* keep what we show */ });
  }

  var repID = list.getAttribute('data-rep-id') || document.body.getAttribute('data-user-id');
  var pending = null;
  if (!onSettings) {
    O.events(function (type, ev) {
      if (ev.rep_id && repID && ev.rep_id !== repID) return;
      // Coalesce bursts of events into one fetch.
      if (pending) return;
      pending = setTimeout(function () { pending = null; refresh(); }, 150);
    });
  }

  // stuckStep returns the step of p that the request was about, when it
  // could not be saved (the server answered 202: support is alerted).
  function stuckStep(p) {
    var out = null;
    ((p && p.steps) || []).forEach(function (s) {
      if (s.status === 'stuck' && (onSettings || s.key === stepKey)) out = s;
    });
    return out;
  }

  // goNext moves to the first step that is not complete (in the wizard).
  // A step that could not be saved is not "Saved": the page stays and says
  // what happens next.
  function goNext(p, note, what) {
    applyProgress(p);
    var stuck = stuckStep(p);
    if (stuck) {
      O.flash(stuck.message || 'This could not be saved yet. Support has been alerted.');
      return;
    }
    if (onSettings) {
      O.flash('Saved ' + (what || 'your settings') + '.' + (note ? ' ' + note : ''));
      return;
    }
    var msg = 'Saved “' + stepTitle.trim() + '”.' + (note ? ' ' + note : '');
    var next = p && p.current_step;
    if (!next || next === stepKey) {
      O.flash(msg);
      return;
    }
    O.flash(msg, true);
    O.navigate('/wizard/' + encodeURIComponent(next));
  }

  // submit runs send(key) with the button busy and errors shown in root;
  // key is root's idempotency key, kept until the request succeeds.
  function submit(root, button, send) {
    O.clearErrors(root);
    O.setBusy(button, true);
    return send(O.idempotencyKey(root)).then(function (p) {
      O.setBusy(button, false);
      O.resetIdempotencyKey(root);
      return p;
    }, function (err) {
      O.setBusy(button, false);
      O.showErrors(root, err);
      if (err && err.status === 401) O.navigate('/login?next=' + encodeURIComponent(location.pathname));
      throw err;
    });
  }

  function ignore() { /* shown in the form */ }

  // ---- skip ("Set up later") ------------------------------------------------

  document.querySelectorAll('[data-skip]').forEach(function (b) {
    b.addEventListener('click', function () {
      var key = b.getAttribute('data-skip');
      submit(panel, b, function (k) {
        return O.api('POST', BASE + '/steps/' + encodeURIComponent(key) + '/skip', {}, k);
      }).then(function (p) { goNext(p); }, ignore);
    });
  });

  // ---- profile ----------------------------------------------------------------

  var profileForm = document.getElementById('profile-form');
  if (profileForm) {
    var photo = document.getElementById('photo');
    var preview = document.getElementById('photo-preview');
    var titleInput = document.getElementById('title');
    profileForm.querySelectorAll('[data-title-suggestion]').forEach(function (chip) {
      chip.addEventListener('click', function () {
        titleInput.value = chip.getAttribute('data-title-suggestion');
        titleInput.focus();
      });
    });
    photo.addEventListener('change', function () {
      var f = photo.files && photo.files[0];
      var errEl = profileForm.querySelector('[data-error-for="photo"]');
      errEl.textContent = '';
      if (!f) return;
      if (f.type && f.type !== 'image/png' && f.type !== 'image/jpeg') {
        errEl.textContent = 'Choose a JPG or PNG image.';
        return;
      }
      if (window.URL && URL.createObjectURL) {
        preview.src = URL.createObjectURL(f);
        preview.alt = 'Preview of your new profile photo';
        preview.hidden = false;
      }
    });
    profileForm.addEventListener('submit', function (e) {
      e.preventDefault();
      var fd = new FormData(profileForm);
      if (!photo.files || photo.files.length === 0) fd.delete('photo');
      var button = document.getElementById('profile-submit');
      submit(profileForm, button, function (k) {
        return O.api('PUT', profileForm.getAttribute('action'), fd, k);
      }).then(function (p) { goNext(p, '', 'your profile'); }, ignore);
    });
  }

  // ---- availability -----------------------------------------------------------

  var availForm = document.getElementById('availability-form');
  if (availForm) {
    var tz = document.getElementById('time_zone');
    var browserTZ = '';
    try { browserTZ = Intl.DateTimeFormat().resolvedOptions().timeZone || ''; } catch (e) { browserTZ = ''; }
    if (!tz.value && browserTZ) tz.value = browserTZ;
    if (browserTZ) {
      var hint = document.getElementById('browser-time-zone');
      if (hint) hint.textContent = 'Your browser says ' + browserTZ + '.';
    }
    var zones = document.getElementById('time-zones');
    if (zones && Intl.supportedValuesOf) {
      try {
        var frag = document.createDocumentFragment();
        Intl.supportedValuesOf('timeZone').forEach(function (z) {
          var o = document.createElement('option');
          o.value = z;
          frag.appendChild(o);
        });
        zones.appendChild(frag);
      } catch (e) { /* no list: free text */ }
    }

    var tpl = document.getElementById('range-template');
    function syncDay(day) {
      var has = day.querySelectorAll('[data-range]').length > 0;
      var u = day.querySelector('[data-unavailable]');
      if (u) u.hidden = has;
    }
    function labelRange(day, range) {
      var name = day.querySelector('.day-name').textContent;
      range.querySelector('[data-start]').setAttribute('aria-label', name + ' from');
      range.querySelector('[data-end]').setAttribute('aria-label', name + ' to');
      range.querySelector('[data-remove-range]').setAttribute('aria-label', 'Remove this ' + name + ' time range');
    }
    availForm.addEventListener('click', function (e) {
      var t = e.target;
      if (!(t instanceof Element)) return;
      var add = t.closest('[data-add-range]');
      var rm = t.closest('[data-remove-range]');
      var day = t.closest('[data-day]');
      if (!day) return;
      if (add) {
        var node = tpl.content.firstElementChild.cloneNode(true);
        var ranges = day.querySelectorAll('[data-range]');
        var last = ranges[ranges.length - 1];
        if (last) {
          // Suggest the hour after the last range.
          var end = last.querySelector('[data-end]').value;
          if (/^\d\d:\d\d$/.test(end) && end < '23:00') {
            var h = parseInt(end.slice(0, 2), 10) + 1;
            node.querySelector('[data-start]').value = end;
            node.querySelector('[data-end]').value = (h < 10 ? '0' : '') + h + end.slice(2);
          }
        }
        labelRange(day, node);
        day.querySelector('[data-ranges]').insertBefore(node, day.querySelector('[data-unavailable]'));
        syncDay(day);
        O.resetIdempotencyKey(availForm); // the form changed: a new request
        node.querySelector('[data-start]').focus();
      } else if (rm) {
        rm.closest('[data-range]').remove();
        syncDay(day);
        O.resetIdempotencyKey(availForm);
        var next = day.querySelector('[data-add-range]');
        if (next) next.focus();
      }
    });

    function minutes(id, label, errors) {
      var v = document.getElementById(id).value.trim();
      // Ranges are the server's to check (one source of truth); here only
      // that it is a number at all.
      if (!/^-?\d+$/.test(v)) {
        errors[id] = label + ' must be a whole number of minutes.';
        return 0;
      }
      return parseInt(v, 10);
    }

    availForm.addEventListener('submit', function (e) {
      e.preventDefault();
      var errors = {};
      var weekly = {};
      availForm.querySelectorAll('[data-day]').forEach(function (day) {
        var ivs = [];
        day.querySelectorAll('[data-range]').forEach(function (r) {
          var endIn = r.querySelector('[data-end]');
          // A time input cannot show "24:00" (end of day): keep the saved value.
          var end = endIn.value || (endIn.getAttribute('data-saved') === '24:00' ? '24:00' : '');
          ivs.push({ start: r.querySelector('[data-start]').value, end: end });
        });
        weekly[day.getAttribute('data-day')] = ivs;
      });
      var body = {
        time_zone: tz.value.trim(),
        weekly: weekly,
        min_notice_minutes: minutes('min_notice_minutes', 'Minimum notice', errors),
        buffer_minutes: minutes('buffer_minutes', 'Buffer', errors)
      };
      var button = document.getElementById('availability-submit');
      if (Object.keys(errors).length) {
        O.showErrors(availForm, { message: 'Please correct the highlighted fields.', fields: errors });
        return;
      }
      submit(availForm, button, function (k) {
        return O.api('PUT', availForm.getAttribute('action'), body, k);
      }).then(function (p) {
        var check = p && p.time_zone_check;
        var box = document.getElementById('tz-check');
        if (check === 'mismatch') {
          // Stay: the rep should see the warning before moving on.
          applyProgress(p);
          box.className = 'notice notice-warn';
          box.setAttribute('data-tz-check', check);
          box.textContent = 'Saved, but your time zone (' + body.time_zone + ') differs from your calendar\'s time zone (' +
            (p.calendar_time_zone || 'unknown') + '). Use the same zone in both to avoid meetings at the wrong time.';
          box.hidden = false;
          var cont = document.createElement('a');
          cont.className = 'button button-secondary';
          cont.id = 'continue-link';
          cont.href = '/wizard/' + encodeURIComponent(p.current_step || 'finish');
          cont.textContent = 'Continue anyway';
          button.parentNode.appendChild(cont);
          box.setAttribute('tabindex', '-1');
          box.focus();
          return;
        }
        var note = check === 'unverified' ? 'We\'ll check this against your calendar\'s time zone once it is connected.' : '';
        goNext(p, note, 'your calendar settings');
      }, ignore);
    });
  }

  // ---- notifications ------------------------------------------------------------

  var notifForm = document.getElementById('notifications-form');
  if (notifForm) {
    var play = document.getElementById('sound-preview');
    play.addEventListener('click', function () {
      O.unlockAudio();
      O.playSound(document.getElementById('sound').value);
    });
    notifForm.addEventListener('submit', function (e) {
      e.preventDefault();
      var streams = {};
      notifForm.querySelectorAll('tr[data-stream]').forEach(function (row) {
        var key = row.getAttribute('data-stream');
        var desktop = row.querySelector('[data-channel="desktop"]');
        var mobile = row.querySelector('[data-channel="mobile"]');
        streams[key] = {
          desktop: key === 'waiting_for_rep' ? true : !!(desktop && desktop.checked),
          mobile: !!(mobile && mobile.checked)
        };
      });
      var body = {
        return_visitor_alerts: document.getElementById('return_visitor_alerts').checked,
        sound: document.getElementById('sound').value,
        voice_alerts: document.getElementById('voice_alerts').checked,
        streams: streams
      };
      submit(notifForm, document.getElementById('notifications-submit'), function (k) {
        return O.api('PUT', notifForm.getAttribute('action'), body, k);
      }).then(function (p) { goNext(p, '', 'your notifications'); }, ignore);
    });
  }

  // ---- browser permissions --------------------------------------------------------

  var allow = document.getElementById('browser-allow');
  if (allow) {
    var box = document.getElementById('browser-step');
    var LABELS = { granted: 'Allowed', denied: 'Blocked', prompt: 'Not asked yet' };

    function show(r) {
      ['notifications', 'camera', 'microphone'].forEach(function (k) {
        var dd = box.querySelector('[data-permission="' + k + '"]');
        if (dd) { dd.setAttribute('data-state', r[k]); dd.textContent = LABELS[r[k]] || r[k]; }
      });
      var denied = r.notifications !== 'granted' || r.camera === 'denied' || r.microphone === 'denied';
      document.getElementById('browser-help').hidden = !denied;
      return denied;
    }

    function askNotifications() {
      if (!('Notification' in window)) return Promise.resolve('denied');
      if (Notification.permission !== 'default') return Promise.resolve(Notification.permission);
      return new Promise(function (resolve) {
        var done = false;
        function finish(p) { if (!done) { done = true; resolve(p === 'default' ? 'prompt' : (p || 'prompt')); } }
        try {
          var ret = Notification.requestPermission(finish); // old callback form
          if (ret && ret.then) ret.then(finish, function () { finish('denied'); });
        } catch (e) { finish('denied'); }
      });
    }

    function getMedia(constraints) {
      return navigator.mediaDevices.getUserMedia(constraints).then(function (stream) {
        stream.getTracks().forEach(function (t) { t.stop(); });
        return 'granted';
      }, function (err) {
        var name = err && err.name;
        if (name === 'NotAllowedError' || name === 'SecurityError' || name === 'PermissionDeniedError') {
          return /dismiss/i.test(err.message || '') ? 'prompt' : 'denied';
        }
        return 'missing'; // no such device, or it is busy
      });
    }

    function askMedia() {
      if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
        return Promise.resolve({ camera: 'denied', microphone: 'denied' });
      }
      return getMedia({ audio: true, video: true }).then(function (both) {
        if (both !== 'missing') return { camera: both, microphone: both };
        // One of the two devices is missing: ask for each on its own.
        return Promise.all([getMedia({ video: true }), getMedia({ audio: true })]).then(function (r) {
          return {
            camera: r[0] === 'missing' ? 'denied' : r[0],
            microphone: r[1] === 'missing' ? 'denied' : r[1]
          };
        });
      });
    }

    // query refines what we learnt with the Permissions API, where supported.
    function query(r) {
      if (!navigator.permissions || !navigator.permissions.query) return Promise.resolve(r);
      return Promise.all(['notifications', 'camera', 'microphone'].map(function (name) {
        return navigator.permissions.query({ name: name }).then(function (st) {
          var s = st.state;
          if (s === 'granted' || s === 'denied') r[name] = s;
          else if (s === 'prompt' && r[name] !== 'granted') r[name] = 'prompt';
        }, function () { /* unsupported name in this browser */ });
      })).then(function () { return r; });
    }

    allow.addEventListener('click', function () {
      O.resetIdempotencyKey(box); // each click reports what the browser says now
      O.clearErrors(box);
      O.setBusy(allow, true);
      var result = {};
      askNotifications().then(function (n) {
        result.notifications = n;
        return askMedia();
      }).then(function (m) {
        result.camera = m.camera;
        result.microphone = m.microphone;
        return query(result);
      }).then(function (r) {
        r.user_agent = navigator.userAgent;
        var denied = show(r);
        O.setBusy(allow, false);
        return submit(box, allow, function (k) {
          return O.api('PUT', BASE + '/steps/browser', r, k);
        }).then(function (p) {
          if (denied) {
            applyProgress(p);
            var cont = document.getElementById('browser-continue');
            var link = document.getElementById('browser-continue-link');
            if (p && p.current_step && link) link.href = '/wizard/' + encodeURIComponent(p.current_step);
            if (cont) cont.hidden = false;
            O.flash('Saved what your browser allowed.');
            return;
          }
          goNext(p, 'Notifications, camera and microphone are allowed.');
        }, ignore);
      }, function () {
        O.setBusy(allow, false);
        O.showErrors(box, { message: 'Your browser could not ask for these permissions.' });
      });
    });
  }

  // ---- finish ------------------------------------------------------------------

  var confirmBtn = document.getElementById('finish-confirm');
  if (confirmBtn) {
    var fbox = document.getElementById('finish-step');
    confirmBtn.addEventListener('click', function () {
      submit(fbox, confirmBtn, function (k) {
        return O.api('POST', BASE + '/steps/finish', {}, k);
      }).then(function (p) {
        applyProgress(p);
        if (p && p.finished) {
          O.flash('You\'re all set!', true);
          O.navigate('/wizard/finish');
        }
      }, ignore);
    });
  }
})();
