// Onramp rep console: the rep's visitor streams with live entries, browser
// notifications, sounds and voice alerts, and chats (waiting visitors,
// accept, reply, end). It reads its state from the API, then follows
// /api/v1/events?console=1 from the cursor it was given (docs/REALTIME.md):
// nothing between the two is missed, and while the stream is open the rep
// is online for "Waiting for a Rep".
(function () {
  'use strict';
  var O = window.Onramp;
  if (document.body.getAttribute('data-page') !== 'console') return;
  var me = document.body.getAttribute('data-user-id') || '';
  var tools = document.getElementById('console-tools');
  var prefs = { sound: tools.getAttribute('data-sound') || 'none', voice: tools.getAttribute('data-voice') === 'true' };

  var KINDS = {
    visit: 'Visiting',
    'return': 'Returned',
    identified: 'Identified',
    high_intent: 'High intent',
    vip: 'VIP visitor',
    waiting_for_rep: 'Waiting for a rep',
    chat_message: 'Chat message',
    unanswered: 'Unanswered chat'
  };
  var MAX_ENTRIES = 50;
  var TYPING_EVERY = 3000; // ms between two "typing" signals
  var TYPING_SHOWN = 4000; // ms "… is typing" stays without news

  function el(tag, attrs, children) {
    var e = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (k === 'text') e.textContent = attrs[k];
      else if (k === 'className') e.className = attrs[k];
      else e.setAttribute(k, attrs[k]);
    });
    (children || []).forEach(function (c) { if (c) e.appendChild(typeof c === 'string' ? document.createTextNode(c) : c); });
    return e;
  }
  function cssEscape(s) { return window.CSS && CSS.escape ? CSS.escape(s) : String(s).replace(/["\\]/g, '\\$&'); }
  function timeNode(iso) {
    var d = iso ? new Date(iso) : new Date();
    if (isNaN(d)) d = new Date();
    return el('time', { datetime: d.toISOString(), 'data-relative': '', title: d.toLocaleString(), text: O.relativeTime(d) });
  }
  // errorText is what the rep is shown of a failed request: the API's
  // message, never anything internal.
  function errorText(err, fallback) { return (err && err.message) || fallback; }

  // ---- connection ---------------------------------------------------------------

  var conn = document.getElementById('console-connection');
  var connText = document.getElementById('console-connection-text');
  function connection(state, text) {
    conn.setAttribute('data-state', state);
    connText.textContent = text;
  }

  // ---- streams --------------------------------------------------------------------

  var seen = {}; // entries shown, by feed:seq

  function entryKey(e) { return e.feed && e.seq ? e.feed + ':' + e.seq : (e.id || ''); }

  function sectionOf(key) {
    return document.querySelector('.stream[data-stream="' + cssEscape(key) + '"]') || document.querySelector('.stream[data-stream=""]');
  }

  function pageLink(page) {
    if (!page) return null;
    var u = null;
    try { u = new URL(page); } catch (e) { return null; }
    if (u.protocol !== 'http:' && u.protocol !== 'https:') return null;
    return el('a', { href: u.href, target: '_blank', rel: 'noopener noreferrer', className: 'entry-page', text: u.host + (u.pathname === '/' ? '' : u.pathname) });
  }

  function visitorName(n) { return n.name || n.visitor_id || 'A visitor'; }

  // describe is what the alert says: "VIP visitor: Ada (Acme)".
  function describe(n) {
    var who = visitorName(n) + (n.account ? ' (' + n.account + ')' : '');
    return (KINDS[n.kind] || 'Visitor') + ': ' + who;
  }

  function entryNode(e, n) {
    var li = el('li', { className: 'entry', 'data-kind': n.kind || '', 'data-entry': entryKey(e), 'data-visitor-id': n.visitor_id || '' });
    var head = el('p', { className: 'entry-head' }, [
      el('span', { className: 'entry-kind', 'data-kind': n.kind || '', text: KINDS[n.kind] || n.kind || 'Visitor' }),
      ' ',
      el('strong', { className: 'entry-name', text: visitorName(n) })
    ]);
    if (n.account) head.appendChild(el('span', { className: 'entry-account', text: ' · ' + n.account }));
    li.appendChild(head);
    var meta = el('p', { className: 'entry-meta' }, [timeNode(e.at)]);
    var link = pageLink(n.page);
    if (link) { meta.appendChild(document.createTextNode(' · on ')); meta.appendChild(link); }
    li.appendChild(meta);
    if (n.message) li.appendChild(el('p', { className: 'entry-message', text: '“' + n.message + '”' }));
    if (n.conversation_id && (n.kind === 'waiting_for_rep' || n.kind === 'unanswered')) {
      li.appendChild(el('p', { className: 'entry-actions' }, [
        el('button', { type: 'button', className: 'button-small', 'data-accept': n.conversation_id, text: 'Accept chat' })
      ]));
    }
    return li;
  }

  function updateSection(section) {
    var list = section.querySelector('[data-entries]');
    var n = list.children.length;
    section.querySelector('[data-count]').textContent = String(n);
    section.querySelector('[data-empty]').hidden = n > 0;
    if (section.getAttribute('data-stream') === '' && n > 0) section.hidden = false;
  }

  // addEntry shows a notification feed entry in each of its streams (the
  // newest on top). Returns the entries added (none when already shown or
  // not for the desktop).
  function addEntry(e) {
    var n = e.data || {};
    var key = entryKey(e);
    if (!n.desktop || (key && seen[key])) return [];
    if (key) seen[key] = true;
    var keys = n.streams && n.streams.length ? n.streams : [''];
    var added = [];
    var sections = [];
    keys.forEach(function (k) {
      var s = sectionOf(k);
      if (sections.indexOf(s) < 0) sections.push(s);
    });
    sections.forEach(function (s) {
      var list = s.querySelector('[data-entries]');
      var li = entryNode(e, n);
      list.insertBefore(li, list.firstChild);
      while (list.children.length > MAX_ENTRIES) list.removeChild(list.lastChild);
      updateSection(s);
      added.push(li);
    });
    return added;
  }

  function clearEntries() {
    seen = {};
    document.querySelectorAll('.stream').forEach(function (s) {
      s.querySelector('[data-entries]').textContent = '';
      updateSection(s);
    });
  }

  // ---- alerts: browser notification, sound, voice ----------------------------------

  var notifyButton = document.getElementById('notify-enable');
  var notifyState = document.getElementById('notify-state');
  function showPermission() {
    if (!('Notification' in window)) {
      notifyState.textContent = 'This browser cannot show notifications.';
      return;
    }
    var p = Notification.permission;
    notifyButton.hidden = p !== 'default';
    notifyState.setAttribute('data-permission', p);
    if (p === 'granted') notifyState.textContent = 'Browser notifications are on.';
    else if (p === 'denied') notifyState.textContent = 'Browser notifications are blocked: allow them in the site settings (the icon left of the address bar), then reload.';
    else notifyState.textContent = '';
  }
  notifyButton.addEventListener('click', function () {
    O.unlockAudio();
    var done = function () { showPermission(); };
    try {
      var r = Notification.requestPermission(done);
      if (r && r.then) r.then(done, done);
    } catch (e) { done(); }
  });
  showPermission();
  // Sounds may only start after the rep interacted with the page.
  ['click', 'keydown'].forEach(function (t) { document.addEventListener(t, O.unlockAudio, { passive: true }); });

  var lastSound = 0;
  // notify tells the rep about a live notification, in every way they
  // chose. What was done is marked on the entries (data-alerted).
  function notify(e, n, entries) {
    var done = [];
    var text = describe(n);
    if ('Notification' in window && Notification.permission === 'granted') {
      try {
        var note = new Notification(text, { body: n.message || n.page || '', tag: entryKey(e) });
        note.onclick = function () { window.focus(); note.close(); };
        done.push('browser');
      } catch (err) { /* a browser that only notifies from a service worker */ }
    }
    var sound = n.sound || prefs.sound;
    var now = Date.now();
    if (sound && sound !== 'none' && now - lastSound > 1000) {
      lastSound = now;
      O.playSound(sound);
      done.push('sound:' + sound);
    }
    if (n.voice && window.speechSynthesis && window.SpeechSynthesisUtterance) {
      // A burst (catching up after a reconnect) is not read out whole.
      if (speechSynthesis.pending) speechSynthesis.cancel();
      speechSynthesis.speak(new SpeechSynthesisUtterance(text));
      done.push('voice');
    }
    entries.forEach(function (li) { li.setAttribute('data-alerted', done.join(' ')); });
  }

  // ---- chats ---------------------------------------------------------------------

  var chatError = document.getElementById('chat-error');
  var waitingList = document.getElementById('waiting-list');
  var mineList = document.getElementById('mine-list');
  var panel = document.getElementById('chat-panel');
  var titleEl = document.getElementById('chat-title');
  var stateEl = document.getElementById('chat-state');
  var messagesEl = document.getElementById('chat-messages');
  var typingEl = document.getElementById('chat-typing');
  var form = document.getElementById('chat-form');
  var textEl = document.getElementById('chat-text');
  var sendBtn = document.getElementById('chat-send');
  var endBtn = document.getElementById('chat-end');

  var convs = {};   // conversations the console knows, by id
  var convsLoaded = false;
  var firstMessage = {}; // a waiting conversation's first message, from its notification
  var unread = {};  // messages not seen yet, by conversation
  var current = ''; // the open conversation
  var shownMessages = {};
  var typingTimer = null;
  var lastTyping = 0;

  function showChatError(msg) { chatError.textContent = msg || ''; }

  function remember(c) {
    if (!c || !c.id) return;
    var old = convs[c.id];
    // A state never goes back (waiting → active → ended): a late event
    // does not undo a newer one.
    var rank = { waiting: 0, active: 1, ended: 2 };
    if (old && rank[old.state] > rank[c.state]) return;
    convs[c.id] = c;
  }

  function renderLists() {
    var waiting = [];
    var mine = [];
    Object.keys(convs).forEach(function (id) {
      var c = convs[id];
      if (c.state === 'waiting') waiting.push(c);
      else if (c.rep_id === me) mine.push(c);
    });
    var byTime = function (a, b) { return String(a.created_at).localeCompare(String(b.created_at)); };
    waiting.sort(byTime);
    mine.sort(byTime);
    var wf = document.createDocumentFragment();
    waiting.forEach(function (c) {
      var li = el('li', { className: 'chat-item', 'data-conversation-id': c.id }, [
        el('span', { className: 'chat-item-name', text: c.visitor_name || c.visitor_id || 'A visitor' }),
        ' ', timeNode(c.created_at)
      ]);
      if (firstMessage[c.id]) li.appendChild(el('span', { className: 'chat-item-message', text: '“' + firstMessage[c.id] + '”' }));
      li.appendChild(el('button', { type: 'button', className: 'button-small', 'data-accept': c.id, text: 'Accept', 'aria-label': 'Accept the chat with ' + (c.visitor_name || 'this visitor') }));
      wf.appendChild(li);
    });
    waitingList.replaceChildren(wf);
    document.getElementById('waiting-count').textContent = String(waiting.length);
    document.getElementById('waiting-empty').hidden = waiting.length > 0;
    var mf = document.createDocumentFragment();
    mine.forEach(function (c) {
      var b = el('button', { type: 'button', className: 'chat-open', 'data-open': c.id }, [
        el('span', { className: 'chat-item-name', text: c.visitor_name || c.visitor_id || 'A visitor' })
      ]);
      if (c.id === current) b.setAttribute('aria-current', 'true');
      if (c.state === 'ended') b.appendChild(el('span', { className: 'badge', 'data-chat-state': 'ended', text: 'Ended' }));
      if (unread[c.id]) b.appendChild(el('span', { className: 'badge badge-unread', text: unread[c.id] + ' new' }));
      mf.appendChild(el('li', { className: 'chat-item', 'data-conversation-id': c.id }, [b]));
    });
    mineList.replaceChildren(mf);
    document.getElementById('mine-empty').hidden = mine.length > 0;
    pruneAccept();
  }

  // pruneAccept drops the Accept buttons of stream entries whose chat is
  // not waiting any more (once the chats are known).
  function pruneAccept() {
    if (!convsLoaded) return;
    document.querySelectorAll('.entry [data-accept]').forEach(function (b) {
      var c = convs[b.getAttribute('data-accept')];
      if (!c || c.state !== 'waiting') b.closest('.entry-actions').remove();
    });
  }

  function loadConversations() {
    return O.api('GET', '/api/v1/conversations').then(function (r) {
      var keep = {};
      // Ended chats of this session stay listed; the rest is the server's.
      Object.keys(convs).forEach(function (id) { if (convs[id].state === 'ended' && convs[id].rep_id === me) keep[id] = convs[id]; });
      convs = keep;
      ((r && r.conversations) || []).forEach(function (c) { convs[c.id] = c; });
      convsLoaded = true;
      renderLists();
    }, function (err) { showChatError(errorText(err, 'Could not load your chats.')); });
  }

  var STATE_LABELS = { waiting: 'Waiting', active: 'Active', ended: 'Ended' };
  function renderState() {
    var c = convs[current];
    if (!c) return;
    titleEl.textContent = 'Chat with ' + (c.visitor_name || c.visitor_id || 'a visitor');
    stateEl.textContent = STATE_LABELS[c.state] || c.state;
    stateEl.setAttribute('data-chat-state', c.state);
    var open = c.state === 'active' && c.rep_id === me;
    textEl.disabled = !open;
    sendBtn.disabled = !open;
    form.hidden = c.state === 'ended';
    document.getElementById('chat-ended').hidden = c.state !== 'ended';
    if (c.state === 'ended') typingEl.textContent = '';
  }

  function messageNode(m) {
    var c = convs[m.conversation_id] || {};
    var who = m.sender === 'rep' ? (m.rep_id === me ? 'You' : 'Rep') : (c.visitor_name || 'Visitor');
    return el('li', { className: 'message', 'data-sender': m.sender, 'data-message-id': String(m.id) }, [
      el('span', { className: 'message-who', text: who }),
      el('span', { className: 'message-text', text: m.text }),
      timeNode(m.at)
    ]);
  }

  function addMessage(m) {
    if (m.conversation_id !== current || shownMessages[m.id]) return;
    shownMessages[m.id] = true;
    // In id order, even when an event and an answer cross.
    var node = messageNode(m);
    var after = null;
    for (var i = messagesEl.children.length - 1; i >= 0; i--) {
      if (Number(messagesEl.children[i].getAttribute('data-message-id')) < m.id) { after = messagesEl.children[i]; break; }
    }
    messagesEl.insertBefore(node, after ? after.nextSibling : messagesEl.firstChild);
    messagesEl.scrollTop = messagesEl.scrollHeight;
    if (m.sender === 'visitor') typingEl.textContent = '';
  }

  function showConversation(r) {
    remember(r.conversation);
    current = r.conversation.id;
    delete unread[current];
    shownMessages = {};
    messagesEl.textContent = '';
    typingEl.textContent = '';
    panel.hidden = false;
    (r.messages || []).forEach(addMessage);
    renderState();
    renderLists();
  }

  function openConversation(id) {
    showChatError('');
    return O.api('GET', '/api/v1/conversations/' + encodeURIComponent(id)).then(function (r) {
      showConversation(r);
      textEl.focus();
    }, function (err) { showChatError(errorText(err, 'Could not open this chat.')); });
  }

  function accept(id, button) {
    showChatError('');
    O.setBusy(button, true);
    O.api('POST', '/api/v1/conversations/' + encodeURIComponent(id) + '/accept', {}).then(function (r) {
      O.setBusy(button, false);
      showConversation(r);
      O.flash('You are chatting with ' + (r.conversation.visitor_name || 'the visitor') + '.');
      textEl.focus();
    }, function (err) {
      O.setBusy(button, false);
      if (err && err.status === 409) {
        showChatError('Another rep accepted this chat first, or the visitor left.');
        delete convs[id];
        renderLists();
        removeAcceptButtons(id);
        return;
      }
      showChatError(errorText(err, 'Could not accept this chat.'));
    });
  }

  function removeAcceptButtons(id) {
    document.querySelectorAll('.entry [data-accept="' + cssEscape(id) + '"]').forEach(function (b) { b.closest('.entry-actions').remove(); });
  }

  document.addEventListener('click', function (e) {
    var t = e.target instanceof Element ? e.target : null;
    if (!t) return;
    var a = t.closest('[data-accept]');
    if (a) { accept(a.getAttribute('data-accept'), a); return; }
    var o = t.closest('[data-open]');
    if (o) openConversation(o.getAttribute('data-open'));
  });

  form.addEventListener('submit', function (e) {
    e.preventDefault();
    var text = textEl.value.trim();
    if (!current || !text) return;
    O.clearErrors(form);
    O.setBusy(sendBtn, true);
    O.api('POST', '/api/v1/conversations/' + encodeURIComponent(current) + '/messages', { text: text }).then(function (m) {
      O.setBusy(sendBtn, false);
      textEl.value = '';
      lastTyping = 0;
      addMessage(m);
      textEl.focus();
      renderState();
    }, function (err) {
      O.setBusy(sendBtn, false);
      O.showErrors(form, err);
      renderState();
    });
  });
  textEl.addEventListener('keydown', function (e) {
    if (e.key === 'Enter' && !e.shiftKey) { e.preventDefault(); form.requestSubmit ? form.requestSubmit() : sendBtn.click(); }
  });
  textEl.addEventListener('input', function () {
    var c = convs[current];
    var now = Date.now();
    if (!c || c.state !== 'active' || !textEl.value.trim() || now - lastTyping < TYPING_EVERY) return;
    lastTyping = now;
    O.api('POST', '/api/v1/conversations/' + encodeURIComponent(current) + '/typing', {}).catch(function () { /* typing is best effort */ });
  });
  endBtn.addEventListener('click', function () {
    if (!current) return;
    showChatError('');
    O.setBusy(endBtn, true);
    O.api('POST', '/api/v1/conversations/' + encodeURIComponent(current) + '/end', {}).then(function (c) {
      O.setBusy(endBtn, false);
      onState(c);
    }, function (err) {
      O.setBusy(endBtn, false);
      showChatError(errorText(err, 'Could not end this chat.'));
      renderState();
    });
  });

  function onMessage(m) {
    if (!m || !m.conversation_id) return;
    if (m.conversation_id === current) { addMessage(m); return; }
    if (m.sender === 'visitor') {
      unread[m.conversation_id] = (unread[m.conversation_id] || 0) + 1;
      renderLists();
    }
  }

  function onState(c) {
    if (!c || !c.id) return;
    remember(c);
    if (c.state !== 'waiting' && c.rep_id !== me) delete convs[c.id];
    if (c.id === current) renderState();
    renderLists();
  }

  function onTaken(c) {
    if (!c || !c.id) return;
    if (c.rep_id === me) remember(c);
    else delete convs[c.id];
    removeAcceptButtons(c.id);
    renderLists();
  }

  function onTyping(t) {
    if (!t || t.conversation_id !== current || t.sender !== 'visitor') return;
    var c = convs[current] || {};
    typingEl.textContent = (c.visitor_name || 'The visitor') + ' is typing…';
    clearTimeout(typingTimer);
    typingTimer = setTimeout(function () { typingEl.textContent = ''; }, TYPING_SHOWN);
  }

  // ---- the stream ---------------------------------------------------------------------

  function showNotifications(r) {
    clearEntries();
    // Oldest first, so that the newest ends on top.
    ((r && r.entries) || []).forEach(function (e) {
      if (e.type !== 'notification') return;
      addEntry(e);
      noteWaiting(e);
    });
    pruneAccept();
  }

  // noteWaiting adds the conversation of a "Waiting for a Rep"
  // notification to the waiting chats (the list is refetched too).
  function noteWaiting(e) {
    var n = e.data || {};
    if (n.kind !== 'waiting_for_rep' || !n.conversation_id) return false;
    if (n.message) firstMessage[n.conversation_id] = n.message;
    return true;
  }

  function onEvent(type, e) {
    switch (type) {
      case 'ready':
        connection('live', 'Live');
        // Back after a reconnect: what the stream caught up with is
        // shown, but "taken" is live only: the chats are read again.
        if (readyCount++ > 0) loadConversations();
        return;
      case 'notification': {
        var added = addEntry(e);
        if (added.length) notify(e, e.data || {}, added);
        if (noteWaiting(e)) {
          var n = e.data;
          if (!convs[n.conversation_id]) {
            remember({ id: n.conversation_id, visitor_id: n.visitor_id, visitor_name: n.name, state: 'waiting', created_at: e.at });
          }
          renderLists();
        }
        return;
      }
      case 'chat.message': onMessage(e.data); return;
      case 'chat.state': onState(e.data); return;
      case 'chat.typing': onTyping(e.data); return;
      case 'chat.taken': onTaken(e.data); return;
      case 'reset':
        // The stream could not catch up: what is shown is refetched.
        refetch();
        return;
    }
  }

  function refetch() {
    O.api('GET', '/api/v1/notifications').then(showNotifications, function () { /* keep what is shown */ });
    loadConversations().then(function () {
      if (current && convs[current]) openConversation(current);
    });
  }

  var stream = null;
  var readyCount = 0;
  function onStreamState(s) {
    if (s === 'reconnecting') connection('reconnecting', 'Reconnecting…');
    else if (s === 'unsupported') connection('offline', 'This browser cannot receive live updates.');
    else if (s === 'closed') {
      connection('offline', 'Disconnected. Trying again…');
      O.api('GET', '/api/v1/me').catch(function (err) {
        if (err && err.status === 401) {
          if (stream) stream.close();
          connection('offline', 'Your session has ended: sign in again.');
          O.navigate('/login?next=' + encodeURIComponent('/console'));
        }
      });
    }
  }

  function start() {
    O.api('GET', '/api/v1/notifications').then(function (r) {
      showNotifications(r);
      return loadConversations().then(function () { return r.cursor; });
    }).then(function (cursor) {
      stream = O.stream('/api/v1/events?console=1',
        ['ready', 'notification', 'chat.message', 'chat.state', 'chat.typing', 'chat.taken', 'reset'],
        onEvent, { cursor: cursor, onstate: onStreamState });
    }, function (err) {
      connection('offline', errorText(err, 'Could not load your console.') + ' Reload the page to try again.');
      if (err && err.status === 401) O.navigate('/login?next=' + encodeURIComponent('/console'));
    });
  }

  setInterval(O.refreshRelativeTimes, 30000);
  start();
})();
