// Onramp: helpers shared by every page (no framework, no build step).
// window.Onramp.api      fetch JSON with the CSRF header; rejects with {code, message, fields, status}
// window.Onramp.showErrors / clearErrors   form error display ([data-error-for], .form-error)
// window.Onramp.events   subscribe to the server-sent onboarding events
// window.Onramp.stream   an EventSource that resumes from its cursor
// window.Onramp.playSound   the notification sounds, synthesized (WebAudio)
(function () {
  'use strict';

  var STATUS_LABELS = {
    pending: 'Pending',
    in_progress: 'In progress',
    done: 'Done',
    skipped: 'Skipped',
    needs_action: 'Needs action',
    stuck: 'Stuck'
  };

  function statusLabel(s) {
    if (!s) return 'Pending';
    return STATUS_LABELS[s] || String(s).replace(/_/g, ' ');
  }

  function csrfToken() {
    var m = document.querySelector('meta[name="csrf-token"]');
    return m ? m.getAttribute('content') : '';
  }

  // api(method, url, body, key, headers) → Promise of the decoded JSON body
  // (or null). body may be FormData (sent as multipart) or any JSON-able
  // value. key, when given, is sent as the Idempotency-Key: the same
  // request sent again with the same key (after a 503, say) is applied
  // once. headers are added to the request (the visitor chat's
  // Authorization, say).
  function api(method, url, body, key, headers) {
    var opts = { method: method, credentials: 'same-origin', headers: { Accept: 'application/json' } };
    if (method !== 'GET' && method !== 'HEAD') opts.headers['X-CSRF-Token'] = csrfToken();
    if (key) opts.headers['Idempotency-Key'] = key;
    Object.keys(headers || {}).forEach(function (h) { opts.headers[h] = headers[h]; });
    if (typeof FormData !== 'undefined' && body instanceof FormData) {
      opts.body = body;
    } else if (body !== undefined) {
      opts.headers['Content-Type'] = 'application/json';
      opts.body = JSON.stringify(body);
    }
    return fetch(url, opts).then(function (res) {
      return res.text().then(function (text) {
        var data = null;
        if (text) {
          try { data = JSON.parse(text); } catch (e) { data = null; }
        }
        if (!res.ok) {
          var err = data && data.code ? data : { code: 'http_' + res.status, message: fallbackMessage(res.status) };
          err.status = res.status;
          throw err;
        }
        return data;
      });
    }, function () {
      throw { code: 'network', message: 'Could not reach the server. Check your connection and try again.' };
    });
  }

  function fallbackMessage(status) {
    if (status === 401) return 'Your session has expired. Sign in again.';
    if (status === 403) return 'You are not allowed to do this. Reload the page and try again.';
    if (status === 413) return 'That file is too large.';
    if (status === 503) return 'The service is busy. Try again in a moment.';
    return 'Something went wrong (' + status + '). Try again.';
  }

  function cssEscape(s) {
    if (window.CSS && CSS.escape) return CSS.escape(s);
    return String(s).replace(/["\\]/g, '\\$&');
  }

  function clearErrors(root) {
    root.querySelectorAll('[data-error-for]').forEach(function (el) { el.textContent = ''; });
    root.querySelectorAll('[aria-invalid="true"]').forEach(function (el) { el.removeAttribute('aria-invalid'); });
    root.querySelectorAll('.has-error').forEach(function (el) { el.classList.remove('has-error'); });
    var summary = root.querySelector('.form-error');
    if (summary) summary.textContent = '';
  }

  // showErrors puts err.message in the form's summary and each of
  // err.fields next to its field; fields without a place go to the summary.
  function showErrors(root, err) {
    clearErrors(root);
    var summary = root.querySelector('.form-error');
    var extra = [];
    var fields = (err && err.fields) || {};
    var firstInvalid = null;
    Object.keys(fields).forEach(function (key) {
      var el = root.querySelector('[data-error-for="' + cssEscape(key) + '"]');
      if (!el) { extra.push(fields[key]); return; }
      el.textContent = fields[key];
      var input = root.querySelector('[name="' + cssEscape(key) + '"]') || root.querySelector('[data-field="' + cssEscape(key) + '"]');
      if (input) {
        if (/^(INPUT|SELECT|TEXTAREA)$/.test(input.tagName)) input.setAttribute('aria-invalid', 'true');
        input.classList.add('has-error');
        if (!firstInvalid) firstInvalid = input;
      }
    });
    if (summary) {
      var msg = (err && err.message) || 'Something went wrong. Try again.';
      if (extra.length) msg += ' ' + extra.join(' ');
      summary.textContent = msg;
    }
    if (firstInvalid && firstInvalid.focus && /^(INPUT|SELECT|TEXTAREA)$/.test(firstInvalid.tagName)) firstInvalid.focus();
    else if (summary) { summary.setAttribute('tabindex', '-1'); summary.focus(); }
  }

  function setBusy(button, busy) {
    if (!button) return;
    if (busy) {
      button.dataset.label = button.dataset.label || button.textContent;
      button.disabled = true;
      button.setAttribute('aria-busy', 'true');
      button.textContent = 'Saving…';
    } else {
      button.disabled = false;
      button.removeAttribute('aria-busy');
      if (button.dataset.label) button.textContent = button.dataset.label;
    }
  }

  // stream(url, types, handler, opts) opens an EventSource on url and
  // calls handler(type, data, ev) for each event of types (data: the
  // parsed JSON, {} when there is none). EventSource resumes on its own
  // with Last-Event-ID; when the browser gives up (the server answered an
  // error), the stream is opened again after a pause from the last cursor
  // it saw, as ?last_event_id= (opts.param, default "last_event_id";
  // opts.cursor: where to start). opts.onstate(state) hears "open",
  // "reconnecting" and "closed". Returns {close(), cursor()}.
  function stream(url, types, handler, opts) {
    opts = opts || {};
    if (!window.EventSource) {
      if (opts.onstate) opts.onstate('unsupported');
      return { close: function () {}, cursor: function () { return opts.cursor || ''; } };
    }
    var cursor = opts.cursor || '';
    var es = null;
    var closed = false;
    var timer = null;
    var delay = 2000;
    function open() {
      var u = url;
      if (cursor) u += (u.indexOf('?') < 0 ? '?' : '&') + (opts.param || 'last_event_id') + '=' + encodeURIComponent(cursor);
      es = new EventSource(u);
      es.addEventListener('open', function () { delay = 2000; if (opts.onstate) opts.onstate('open'); });
      es.addEventListener('error', function () {
        if (closed) return;
        if (es.readyState === 2) { // the browser gave up: try again later
          if (opts.onstate) opts.onstate('closed');
          clearTimeout(timer);
          timer = setTimeout(function () { if (!closed) open(); }, delay);
          delay = Math.min(delay * 2, 30000);
        } else if (opts.onstate) opts.onstate('reconnecting');
      });
      types.forEach(function (t) {
        es.addEventListener(t, function (ev) {
          if (ev.lastEventId) cursor = ev.lastEventId;
          var data = null;
          try { data = ev.data ? JSON.parse(ev.data) : null; } catch (e) { data = null; }
          handler(t, data || {}, ev);
        });
      });
    }
    open();
    function close() { closed = true; clearTimeout(timer); if (es) es.close(); }
    // Close the stream when the page goes away: browsers allow only a few
    // connections per host, and a lingering stream would hold one.
    window.addEventListener('pagehide', close);
    return { close: close, cursor: function () { return cursor; } };
  }

  // events(handler) opens the signed-in user's SSE stream and calls
  // handler(type, event) for every onboarding.* event, and with type
  // "reset" when the stream could not catch up with what was missed: the
  // caller then refetches what it shows.
  var EVENT_TYPES = ['onboarding.step', 'onboarding.finished', 'onboarding.stuck', 'reset'];
  function events(handler) {
    return stream('/api/v1/events', EVENT_TYPES, function (t, data) { handler(t, data); });
  }

  // ---- sounds ---------------------------------------------------------------

  // SOUNDS are the notification sounds (onramp.Sounds), each a few short
  // synthesized notes: [frequency Hz, start s, length s], a waveform and a
  // gain. "none" is silent.
  var SOUNDS = {
    chime: { wave: 'sine', gain: 0.22, notes: [[880, 0, 0.5], [1320, 0.16, 0.6]] },
    ding: { wave: 'triangle', gain: 0.3, notes: [[1046, 0, 0.7]] },
    bell: { wave: 'sine', gain: 0.2, notes: [[784, 0, 1.2], [1568, 0, 0.9], [2352, 0, 0.5]] },
    pop: { wave: 'square', gain: 0.08, notes: [[660, 0, 0.08]], drop: 220 },
    marimba: { wave: 'triangle', gain: 0.28, notes: [[523, 0, 0.22], [659, 0.11, 0.22], [784, 0.22, 0.35]] }
  };
  var audio = null;
  function audioContext() {
    var AC = window.AudioContext || window.webkitAudioContext;
    if (!AC) return null;
    if (!audio) { try { audio = new AC(); } catch (e) { return null; } }
    return audio;
  }
  // unlockAudio resumes the audio context; browsers allow it only in a
  // user gesture (a click), so pages call it from one.
  function unlockAudio() {
    var ctx = audioContext();
    if (ctx && ctx.state === 'suspended' && ctx.resume) ctx.resume().catch(function () {});
  }
  // playSound plays the named sound; false when it cannot (no sound,
  // "none", no WebAudio, or audio not allowed yet).
  function playSound(name) {
    var s = SOUNDS[name];
    var ctx = s && audioContext();
    if (!ctx) return false;
    if (ctx.state === 'suspended' && ctx.resume) ctx.resume().catch(function () {});
    var t = ctx.currentTime + 0.02;
    s.notes.forEach(function (n) {
      var osc = ctx.createOscillator();
      var gain = ctx.createGain();
      osc.type = s.wave;
      osc.frequency.setValueAtTime(n[0], t + n[1]);
      if (s.drop) osc.frequency.exponentialRampToValueAtTime(s.drop, t + n[1] + n[2]);
      gain.gain.setValueAtTime(0.0001, t + n[1]);
      gain.gain.exponentialRampToValueAtTime(s.gain, t + n[1] + 0.01);
      gain.gain.exponentialRampToValueAtTime(0.0001, t + n[1] + n[2]);
      osc.connect(gain).connect(ctx.destination);
      osc.start(t + n[1]);
      osc.stop(t + n[1] + n[2] + 0.05);
    });
    return ctx.state === 'running';
  }

  function relativeTime(date) {
    var d = (Date.now() - date.getTime()) / 1000;
    if (isNaN(d)) return '—';
    if (d < 60) return 'just now';
    function plural(n, unit) { return n === 1 ? '1 ' + unit + ' ago' : n + ' ' + unit + 's ago'; }
    if (d < 3600) return plural(Math.floor(d / 60), 'minute');
    if (d < 86400) return plural(Math.floor(d / 3600), 'hour');
    return plural(Math.floor(d / 86400), 'day');
  }

  function refreshRelativeTimes() {
    document.querySelectorAll('time[data-relative]').forEach(function (t) {
      var dt = t.getAttribute('datetime');
      if (dt) t.textContent = relativeTime(new Date(dt));
    });
  }

  // flash shows a message now, or on the next page when next is true.
  function flash(msg, next) {
    if (next) {
      try { sessionStorage.setItem('onramp.flash', msg); } catch (e) { /* private mode */ }
      return;
    }
    var el = document.getElementById('flash');
    if (!el) return;
    el.textContent = msg;
    el.classList.add('is-visible');
    clearTimeout(flash.timer);
    flash.timer = setTimeout(function () { el.classList.remove('is-visible'); el.textContent = ''; }, 6000);
  }

  document.addEventListener('DOMContentLoaded', function () {
    var msg = null;
    try { msg = sessionStorage.getItem('onramp.flash'); sessionStorage.removeItem('onramp.flash'); } catch (e) { msg = null; }
    if (msg) flash(msg);
    if (document.querySelector('time[data-relative]')) setInterval(refreshRelativeTimes, 30000);
  });

  // idempotencyKey returns the key of what el (a form) sends now: the same
  // until the request succeeds or the form changes, so that sending the
  // same form again after a failure is applied once.
  function idempotencyKey(el) {
    if (!el.dataset.idempotencyKey) {
      var k = '';
      if (window.crypto && crypto.randomUUID) k = crypto.randomUUID();
      else if (window.crypto && crypto.getRandomValues) {
        var b = new Uint8Array(16);
        crypto.getRandomValues(b);
        k = Array.prototype.map.call(b, function (x) { return (x < 16 ? '0' : '') + x.toString(16); }).join('');
      } else k = String(Date.now()) + String(Math.random()).slice(2);
      el.dataset.idempotencyKey = k;
      if (!el.dataset.idempotencyWatch) {
        el.dataset.idempotencyWatch = '1';
        var reset = function () { delete el.dataset.idempotencyKey; };
        el.addEventListener('input', reset);
        el.addEventListener('change', reset);
      }
    }
    return el.dataset.idempotencyKey;
  }

  function resetIdempotencyKey(el) { delete el.dataset.idempotencyKey; }

  // navigate goes to url (one place, so tests can watch it).
  function navigate(url) { window.location.assign(url); }

  window.Onramp = {
    api: api,
    idempotencyKey: idempotencyKey,
    resetIdempotencyKey: resetIdempotencyKey,
    navigate: function (url) { navigate(url); },
    csrfToken: csrfToken,
    statusLabel: statusLabel,
    clearErrors: clearErrors,
    showErrors: showErrors,
    setBusy: setBusy,
    events: events,
    stream: stream,
    playSound: playSound,
    unlockAudio: unlockAudio,
    relativeTime: relativeTime,
    refreshRelativeTimes: refreshRelativeTimes,
    flash: flash
  };
})();
