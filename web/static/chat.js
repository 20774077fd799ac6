// Onramp visitor chat (/chat/:org): what the chat widget on an org's
// website does. The visitor starts a conversation with their name and a
// first message and gets its token, kept in sessionStorage for this tab;
// the conversation's events come over SSE (?token=, since EventSource
// cannot send headers) and every request carries the token as
// Authorization: Bearer. No session, no cookies.
(function () {
  'use strict';
  var O = window.Onramp;
  var root = document.getElementById('visitor-chat');
  if (!root) return;
  var org = root.getAttribute('data-org');
  var KEY = 'onramp.chat.' + org;
  var TYPING_EVERY = 3000;
  var TYPING_SHOWN = 4000;

  var startForm = document.getElementById('start-form');
  var convEl = document.getElementById('conversation');
  var stateEl = document.getElementById('visitor-state');
  var messagesEl = document.getElementById('visitor-messages');
  var typingEl = document.getElementById('visitor-typing');
  var form = document.getElementById('visitor-form');
  var textEl = document.getElementById('visitor-text');
  var sendBtn = document.getElementById('visitor-send');
  var endBtn = document.getElementById('visitor-end');
  var newBtn = document.getElementById('visitor-new');
  var errorEl = document.getElementById('visitor-error');

  var chat = null;  // {id, token}
  var conv = null;  // the conversation, as last known
  var shown = {};   // message ids shown
  var stream = null;
  var typingTimer = null;
  var lastTyping = 0;

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

  function load() {
    try { return JSON.parse(sessionStorage.getItem(KEY) || 'null'); } catch (e) { return null; }
  }
  function save(c) {
    try {
      if (c) sessionStorage.setItem(KEY, JSON.stringify(c));
      else sessionStorage.removeItem(KEY);
    } catch (e) { /* private mode: the chat lasts as long as the page */ }
  }
  // visitorID is this browser's visitor, kept across chats.
  function visitorID() {
    var id = '';
    try { id = localStorage.getItem('onramp.visitor') || ''; } catch (e) { id = ''; }
    if (!id) {
      var b = new Uint8Array(8);
      if (window.crypto && crypto.getRandomValues) crypto.getRandomValues(b);
      else for (var i = 0; i < b.length; i++) b[i] = Math.floor(Math.random() * 256);
      id = 'v-' + Array.prototype.map.call(b, function (x) { return (x < 16 ? '0' : '') + x.toString(16); }).join('');
      try { localStorage.setItem('onramp.visitor', id); } catch (e) { /* fine */ }
    }
    return id;
  }

  function auth() { return { Authorization: 'Bearer ' + chat.token }; }
  function base() { return '/api/v1/chat/conversations/' + encodeURIComponent(chat.id); }
  function showError(msg) { errorEl.textContent = msg || ''; }

  // ---- showing the conversation -------------------------------------------------

  var RANK = { waiting: 0, active: 1, ended: 2 };
  function setConversation(c) {
    if (!c) return;
    // States only move forward: a late event does not undo a newer one.
    if (conv && RANK[conv.state] > RANK[c.state]) return;
    conv = c;
    var text = {
      waiting: 'Waiting for a rep… Someone will be with you shortly.',
      active: 'You are chatting with ' + (c.rep_name || 'a rep') + '.',
      ended: 'This chat has ended.'
    }[c.state] || '';
    stateEl.textContent = text;
    stateEl.setAttribute('data-chat-state', c.state);
    var ended = c.state === 'ended';
    textEl.disabled = ended;
    document.getElementById('visitor-composer').hidden = ended;
    sendBtn.hidden = ended;
    endBtn.hidden = ended;
    newBtn.hidden = !ended;
    if (ended) {
      typingEl.textContent = '';
      if (stream) { stream.close(); stream = null; }
    }
  }

  function addMessage(m) {
    if (!m || shown[m.id]) return;
    shown[m.id] = true;
    var who = m.sender === 'visitor' ? 'You' : ((conv && conv.rep_name) || 'Rep');
    var at = new Date(m.at);
    var node = el('li', { className: 'message', 'data-sender': m.sender, 'data-message-id': String(m.id) }, [
      el('span', { className: 'message-who', text: who }),
      el('span', { className: 'message-text', text: m.text }),
      isNaN(at) ? null : el('time', { datetime: at.toISOString(), text: at.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' }) })
    ]);
    var after = null;
    for (var i = messagesEl.children.length - 1; i >= 0; i--) {
      if (Number(messagesEl.children[i].getAttribute('data-message-id')) < m.id) { after = messagesEl.children[i]; break; }
    }
    messagesEl.insertBefore(node, after ? after.nextSibling : messagesEl.firstChild);
    messagesEl.scrollTop = messagesEl.scrollHeight;
    if (m.sender === 'rep') typingEl.textContent = '';
  }

  // refresh reads the conversation and its messages (after the stream is
  // open, so that nothing in between is missed: what comes twice is shown
  // once).
  function refresh() {
    return O.api('GET', base(), undefined, '', auth()).then(function (r) {
      setConversation(r.conversation);
      (r.messages || []).forEach(addMessage);
    }, function (err) {
      if (err && (err.status === 404 || err.status === 401)) {
        forget('This chat is no longer available. Start a new one.');
        return;
      }
      showError(err.message || 'Could not load the chat.');
    });
  }

  function onEvent(type, e) {
    switch (type) {
      case 'ready':
        if (!conv) refresh();
        return;
      case 'chat.message':
        addMessage(e.data);
        return;
      case 'chat.state':
        setConversation(e.data);
        return;
      case 'chat.typing':
        if (!e.data || e.data.sender !== 'rep') return;
        typingEl.textContent = ((conv && conv.rep_name) || 'Rep') + ' is typing…';
        clearTimeout(typingTimer);
        typingTimer = setTimeout(function () { typingEl.textContent = ''; }, TYPING_SHOWN);
        return;
      case 'reset':
        refresh();
    }
  }

  function begin(c) {
    chat = c;
    conv = null;
    shown = {};
    messagesEl.textContent = '';
    startForm.hidden = true;
    convEl.hidden = false;
    stateEl.textContent = 'Connecting…';
    stream = O.stream(base() + '/events?token=' + encodeURIComponent(chat.token),
      ['ready', 'chat.message', 'chat.state', 'chat.typing', 'reset'], onEvent, {
        onstate: function (s) {
          if (s === 'closed' && chat) refresh(); // a chat that is gone is forgotten
        }
      });
  }

  // forget drops the chat and shows the start form again.
  function forget(msg) {
    if (stream) { stream.close(); stream = null; }
    chat = null;
    conv = null;
    save(null);
    convEl.hidden = true;
    startForm.hidden = false;
    document.getElementById('visitor-composer').hidden = false;
    textEl.disabled = false;
    sendBtn.hidden = false;
    endBtn.hidden = false;
    newBtn.hidden = true;
    showError(msg || '');
  }

  // ---- starting, sending, typing, ending ----------------------------------------------

  startForm.addEventListener('submit', function (e) {
    e.preventDefault();
    showError('');
    O.clearErrors(startForm);
    var button = document.getElementById('start-submit');
    var body = {
      visitor_id: visitorID(),
      name: document.getElementById('visitor-name').value.trim(),
      message: document.getElementById('visitor-message').value.trim()
    };
    if (!body.message) {
      O.showErrors(startForm, { message: 'Write a message to start the chat.', fields: { message: 'Message is required.' } });
      return;
    }
    O.setBusy(button, true);
    O.api('POST', '/api/v1/chat/' + encodeURIComponent(org) + '/conversations', body).then(function (r) {
      O.setBusy(button, false);
      var c = { id: r.conversation.id, token: r.token };
      save(c);
      document.getElementById('visitor-message').value = '';
      begin(c);
      textEl.focus();
    }, function (err) {
      O.setBusy(button, false);
      O.showErrors(startForm, err);
    });
  });

  form.addEventListener('submit', function (e) {
    e.preventDefault();
    var text = textEl.value.trim();
    if (!chat || !text) return;
    O.clearErrors(form);
    O.setBusy(sendBtn, true);
    O.api('POST', base() + '/messages', { text: text }, '', auth()).then(function (m) {
      O.setBusy(sendBtn, false);
      textEl.value = '';
      lastTyping = 0;
      addMessage(m);
      textEl.focus();
    }, function (err) {
      O.setBusy(sendBtn, false);
      O.showErrors(form, err);
      if (err && err.status === 409) refresh(); // ended meanwhile
    });
  });
  textEl.addEventListener('keydown', function (e) {
    if (e.key === 'Enter' && !e.shiftKey) { e.preventDefault(); form.requestSubmit ? form.requestSubmit() : sendBtn.click(); }
  });
  textEl.addEventListener('input', function () {
    var now = Date.now();
    if (!chat || !conv || conv.state !== 'active' || !textEl.value.trim() || now - lastTyping < TYPING_EVERY) return;
    lastTyping = now;
    O.api('POST', base() + '/typing', {}, '', auth()).catch(function () { /* best effort */ });
  });
  endBtn.addEventListener('click', function () {
    if (!chat) return;
    O.setBusy(endBtn, true);
    O.api('POST', base() + '/end', {}, '', auth()).then(function (c) {
      O.setBusy(endBtn, false);
      setConversation(c);
    }, function (err) {
      O.setBusy(endBtn, false);
      showError(err.message || 'Could not end the chat.');
    });
  });
  newBtn.addEventListener('click', function () {
    forget('');
    document.getElementById('visitor-message').focus();
  });

  var saved = load();
  if (saved && saved.id && saved.token) begin(saved);
})();
