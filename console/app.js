/*
 * phivault console (docs/console.md). Plain JS, no dependencies, no build step.
 *
 * Security model: the session lives in the HttpOnly cookie pv_session, which
 * this script never sees. The CSRF token (not a credential on its own) is
 * kept in memory only and sent as X-CSRF-Token on every state change; after
 * a reload it is read again from GET /v1/auth/session. Everything is
 * rendered with textContent (never innerHTML). The console calls no
 * records route: it never shows record contents.
 */
'use strict';

(function () {
  var state = { csrf: null, mfaToken: null, session: null, idleS: 900, lastActive: Date.now(),
    idleTimer: null };

  function $(id) { return document.getElementById(id); }

  function el(tag, attrs, children) {
    var e = document.createElement(tag), k;
    attrs = attrs || {};
    for (k in attrs) {
      if (k === 'text') e.textContent = attrs[k];
      else if (k === 'cls') e.className = attrs[k];
      else if (k === 'on') Object.keys(attrs.on).forEach(function (ev) { e.addEventListener(ev, attrs.on[ev]); });
      else e.setAttribute(k, attrs[k]);
    }
    (children || []).forEach(function (c) {
      e.appendChild(typeof c === 'string' ? document.createTextNode(c) : c);
    });
    return e;
  }

  function notice(msg) { $('notice').textContent = msg || ''; }

  /* One API call: {status, body}. 401 -> back to sign-in. */
  function api(method, path, body) {
    var h = { 'Accept': 'application/json' }, opts = { method: method, credentials: 'same-origin', headers: h };
    if (method !== 'GET') {
      if (state.csrf) h['X-CSRF-Token'] = state.csrf;
      h['Content-Type'] = 'application/json';
      opts.body = JSON.stringify(body || {});
    }
    state.lastActive = Date.now();
    return fetch(path, opts).then(function (r) {
      return r.text().then(function (t) {
        var j = null;
        try { j = t ? JSON.parse(t) : null; } catch (e) { j = null; }
        var res = { status: r.status, body: j, code: j && j.error ? j.error.code : null };
        if (r.status === 401 && path.indexOf('/v1/auth/') !== 0) {
          signedOut(res.code === 'session_expired' ? 'Your session expired: sign in again.' :
            'Please sign in.');
        }
        return res;
      });
    });
  }

  function list(body, key) {
    if (Array.isArray(body)) return body;
    if (body && Array.isArray(body[key])) return body[key];
    if (body && Array.isArray(body.items)) return body.items;
    return [];
  }

  function table(cols, rows) {
    var t = el('table'), tr = el('tr');
    cols.forEach(function (c) { tr.appendChild(el('th', { text: c[0] })); });
    t.appendChild(el('thead', {}, [tr]));
    var tb = el('tbody');
    rows.forEach(function (r) {
      var row = el('tr');
      cols.forEach(function (c) {
        var v = c[1](r), td = el('td');
        if (v instanceof Node) td.appendChild(v);
        else td.textContent = v === undefined || v === null ? '' : String(v);
        if (c[2]) td.className = c[2](r);
        row.appendChild(td);
      });
      tb.appendChild(row);
    });
    t.appendChild(tb);
    return t;
  }

  /* A 403 or 404 in place of a page part. */
  function refusal(res) {
    if (res.status === 403) return el('p', { cls: 'denied', text: 'You do not have access to this.' });
    if (res.status === 404 || res.status === 501) return el('p', { cls: 'unavailable', text: 'Not available in this version.' });
    return el('p', { cls: 'denied', text: 'Error ' + res.status + (res.code ? ' (' + res.code + ')' : '') });
  }

  function page(title) {
    var p = $('page');
    p.textContent = '';
    p.appendChild(el('h2', { text: title }));
    return p;
  }

  /* ---------------------------------------------------------------- pages */

  var pages = {};

  pages.compliance = function () {
    var p = page('Compliance posture');
    return api('GET', '/v1/compliance/report?format=json').then(function (r) {
      if (r.status !== 200) { p.appendChild(refusal(r)); return; }
      var s = r.body.summary || {};
      p.appendChild(el('p', { cls: 'summary', id: 'compliance-summary' }, Object.keys(s).map(function (k) {
        return el('span', { text: k + ': ' + s[k] });
      })));
      p.appendChild(el('p', { text: 'Generated ' + (r.body.generated_at || '') + ' at audit seq ' + (r.body.audit_seq || '') }));
      var failing = (r.body.controls || []).filter(function (c) { return c.status !== 'pass'; });
      p.appendChild(el('h3', { text: 'Controls not passing (' + failing.length + ')' }));
      p.appendChild(table([['Control', function (c) { return c.cfr; }], ['Title', function (c) { return c.title; }],
        ['Status', function (c) { return c.status; }, function (c) { return 'status-' + c.status; }]], failing));
    });
  };

  pages.alerts = function () {
    var p = page('Alerts');
    return api('GET', '/v1/alerts').then(function (r) {
      if (r.status !== 200) { p.appendChild(refusal(r)); return; }
      var rows = list(r.body, 'alerts');
      var t = table([['Rule', function (a) { return a.rule; }], ['Severity', function (a) { return a.severity; }],
        ['Actor', function (a) { return a.actor; }], ['Source', function (a) { return a.source; }],
        ['Count', function (a) { return a.count; }], ['Last seen', function (a) { return a.last_seen; }],
        ['Status', function (a) { return a.status; }, function (a) { return 'status-' + a.status; }],
        ['', function (a) {
          if (a.status !== 'open') return a.ack_by ? 'by ' + a.ack_by : '';
          return el('button', { type: 'button', cls: 'ack', 'data-id': a.id, text: 'Acknowledge', on: { click: function () {
            api('POST', '/v1/alerts/' + encodeURIComponent(a.id) + '/ack', { note: 'acknowledged in the console' })
              .then(function (x) { if (x.status !== 200) notice('Acknowledge failed: ' + (x.code || x.status)); route(); });
          } } });
        }]], rows);
      t.id = 'alerts-table';
      rows.forEach(function (a, i) { t.tBodies[0].rows[i].setAttribute('data-rule', a.rule); });
      p.appendChild(rows.length ? t : el('p', { text: 'No alerts.' }));
    });
  };

  pages.audit = function () {
    var p = page('Audit search'), q = {};
    var f = el('form', { id: 'audit-form' }, [
      el('label', {}, ['Actor ', el('input', { id: 'audit-actor' })]),
      el('label', {}, ['Action ', el('input', { id: 'audit-action' })]),
      el('label', {}, ['Since seq ', el('input', { id: 'audit-since', inputmode: 'numeric' })]),
      el('button', { type: 'submit', text: 'Search' })]);
    var out = el('div', { id: 'audit-results' });
    p.appendChild(f); p.appendChild(out);
    function run() {
      var qs = ['limit=100'];
      q.actor = $('audit-actor').value; q.action = $('audit-action').value; q.since_seq = $('audit-since').value;
      Object.keys(q).forEach(function (k) { if (q[k]) qs.push(k + '=' + encodeURIComponent(q[k])); });
      return api('GET', '/v1/audit?' + qs.join('&')).then(function (r) {
        out.textContent = '';
        if (r.status !== 200) { out.appendChild(refusal(r)); return; }
        out.appendChild(table([['Seq', function (e) { return e.seq; }], ['Time', function (e) { return e.ts || e.time; }],
          ['Actor', function (e) { return e.actor && typeof e.actor === 'object' ? (e.actor.user_id || e.actor.kind) : e.actor; }],
          ['Action', function (e) { return e.action; }], ['Resource', function (e) { return e.resource; }],
          ['Outcome', function (e) { return e.outcome; }], ['Reason', function (e) { return e.reason; }]], list(r.body, 'entries')));
      });
    }
    f.addEventListener('submit', function (ev) { ev.preventDefault(); run(); });
    return run();
  };

  pages.users = function () {
    var p = page('Users and roles');
    return api('GET', '/v1/users').then(function (r) {
      if (r.status !== 200) { p.appendChild(refusal(r)); return; }
      p.appendChild(table([['Username', function (u) { return u.username; }],
        ['Roles', function (u) { return (u.roles || []).join(', '); }],
        ['State', function (u) { return u.disabled ? 'disabled' : 'active'; }],
        ['', function (u) {
          var verb = u.disabled ? 'enable' : 'disable';
          return el('button', { type: 'button', text: verb === 'enable' ? 'Enable' : 'Disable', on: { click: function () {
            api('POST', '/v1/users/' + encodeURIComponent(u.id) + '/' + verb, {})
              .then(function (x) { if (x.status >= 300) notice(verb + ' failed: ' + (x.code || x.status)); route(); });
          } } });
        }]], list(r.body, 'users')));
    });
  };

  pages.keys = function () {
    var p = page('Keys and jobs');
    var keys = el('div', { id: 'keys' }), jobs = el('div', { id: 'jobs' });
    p.appendChild(keys); p.appendChild(el('h3', { text: 'Jobs' })); p.appendChild(jobs);
    return Promise.all([api('GET', '/v1/keys'), api('GET', '/v1/jobs')]).then(function (rs) {
      var k = rs[0], j = rs[1];
      if (k.status !== 200) keys.appendChild(refusal(k));
      else keys.appendChild(table([['Key', function (x) { return x.name; }], ['Provider', function (x) { return x.provider; }],
        ['Versions (state, objects)', function (x) {
          return (x.versions || []).map(function (v) { return 'v' + v.version + ' ' + v.state + ' (' + v.objects + ')'; }).join('; ');
        }]], list(k.body, 'keys')));
      if (j.status !== 200) { jobs.appendChild(refusal(j)); return; }
      jobs.appendChild(table([['Job', function (x) { return x.id; }], ['Kind', function (x) { return x.kind; }],
        ['State', function (x) { return x.state; }, function (x) { return 'status-' + x.state; }],
        ['Progress', function (x) {
          var pr = el('progress', { max: String(x.total || 1), value: String(x.done || 0) });
          return el('span', {}, [pr, ' ' + (x.done || 0) + '/' + (x.total || 0)]);
        }], ['ETA (s)', function (x) { return x.eta_s; }]], list(j.body, 'jobs')));
    });
  };

  pages.backups = function () {
    var p = page('Backups and drills');
    var b = el('div', { id: 'backups' }), d = el('div', { id: 'drills' });
    p.appendChild(b); p.appendChild(el('h3', { text: 'Restore drills' })); p.appendChild(d);
    return Promise.all([api('GET', '/v1/sys/backups'), api('GET', '/v1/sys/drills')]).then(function (rs) {
      if (rs[0].status !== 200) b.appendChild(refusal(rs[0]));
      else b.appendChild(table([['Backup', function (x) { return x.id; }], ['Created', function (x) { return x.created_at; }],
        ['Size', function (x) { return x.size; }], ['Immutable until', function (x) { return x.immutable_until; }],
        ['Verified', function (x) { return x.verified; }]], list(rs[0].body, 'backups')));
      if (rs[1].status !== 200) d.appendChild(refusal(rs[1]));
      else d.appendChild(table([['Backup', function (x) { return x.backup; }], ['Started', function (x) { return x.started_at; }],
        ['RTO (s)', function (x) { return x.rto_s; }], ['Records checked', function (x) { return x.records_checked; }],
        ['Audit verified', function (x) { return x.audit_verified; }],
        ['OK', function (x) { return x.ok; }, function (x) { return x.ok ? 'status-ok' : 'status-fail'; }]], list(rs[1].body, 'drills')));
    });
  };

  /* ------------------------------------------------------------ passkeys */

  /* base64url <-> ArrayBuffer: the API's WebAuthn JSON carries base64url
   * fields, navigator.credentials takes and gives ArrayBuffers. */
  var b64u = {
    enc: function (buf) {
      var b = new Uint8Array(buf), s = '', i;
      for (i = 0; i < b.length; i++) s += String.fromCharCode(b[i]);
      return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
    },
    dec: function (s) {
      var t = s.replace(/-/g, '+').replace(/_/g, '/'), raw, b, i;
      while (t.length % 4) t += '=';
      raw = atob(t);
      b = new Uint8Array(raw.length);
      for (i = 0; i < raw.length; i++) b[i] = raw.charCodeAt(i);
      return b.buffer;
    }
  };

  function credList(l) {
    return (l || []).map(function (c) { return { type: c.type || 'public-key', id: b64u.dec(c.id) }; });
  }

  /* A WebAuthn failure in the browser (no authenticator, cancelled, timed out). */
  function browserError(what, e) {
    notice(what + ' failed in the browser (' + (e && e.name ? e.name : String(e)) + ').');
  }

  /* register/begin -> navigator.credentials.create() -> register/finish: {status, body, code}. */
  function registerPasskey(name) {
    return api('POST', '/v1/auth/webauthn/register/begin', {}).then(function (r) {
      if (r.status !== 200) return r;
      var o = r.body.publicKey;
      o.challenge = b64u.dec(o.challenge);
      o.user.id = b64u.dec(o.user.id);
      o.excludeCredentials = credList(o.excludeCredentials);
      return navigator.credentials.create({ publicKey: o }).then(function (c) {
        var body = { id: c.id, rawId: b64u.enc(c.rawId), type: c.type, response: {
          clientDataJSON: b64u.enc(c.response.clientDataJSON),
          attestationObject: b64u.enc(c.response.attestationObject) } };
        if (name) body.name = name;
        return api('POST', '/v1/auth/webauthn/register/finish', body);
      });
    });
  }

  /* The second step of the sign-in with a passkey: login/begin ->
   * navigator.credentials.get() -> login/finish with "cookie": true. */
  function passkeySignIn() {
    var mt = state.mfaToken;
    return api('POST', '/v1/auth/webauthn/login/begin', { mfa_token: mt }).then(function (r) {
      if (r.status !== 200) return r;
      var o = r.body.publicKey;
      o.challenge = b64u.dec(o.challenge);
      o.allowCredentials = credList(o.allowCredentials);
      return navigator.credentials.get({ publicKey: o }).then(function (c) {
        return api('POST', '/v1/auth/webauthn/login/finish', { mfa_token: mt, id: c.id,
          rawId: b64u.enc(c.rawId), type: c.type, cookie: true, response: {
            clientDataJSON: b64u.enc(c.response.clientDataJSON),
            authenticatorData: b64u.enc(c.response.authenticatorData),
            signature: b64u.enc(c.response.signature),
            userHandle: c.response.userHandle ? b64u.enc(c.response.userHandle) : null } });
      });
    });
  }

  pages.passkeys = function () {
    var p = page('Passkeys');
    var out = el('div', { id: 'passkeys' });
    var f = el('form', { id: 'passkey-form', autocomplete: 'off' }, [
      el('label', {}, ['Name ', el('input', { id: 'passkey-name', maxlength: '64', placeholder: 'passkey' })]),
      el('button', { type: 'submit', id: 'passkey-add', text: 'Add a passkey' })]);
    p.appendChild(out); p.appendChild(el('h3', { text: 'Add a passkey' })); p.appendChild(f);
    if (!window.PublicKeyCredential) {
      f.appendChild(el('p', { cls: 'unavailable', text: 'This browser offers no passkeys (WebAuthn).' }));
    }
    f.addEventListener('submit', function (ev) {
      ev.preventDefault();
      registerPasskey($('passkey-name').value.trim()).then(function (x) {
        if (x.status === 201) notice('Passkey added.');
        else if (x.code === 'step_up_required') notice('Adding a passkey needs a sign-in of the last 5 minutes: sign in again.');
        else notice('Adding the passkey failed: ' + (x.code || x.status));
        route();
      }, function (e) { browserError('Adding the passkey', e); });
    });
    return api('GET', '/v1/auth/webauthn/credentials').then(function (r) {
      if (r.status !== 200) { out.appendChild(refusal(r)); return; }
      var rows = list(r.body, 'credentials');
      var t = table([['Name', function (c) { return c.name; }], ['Algorithm', function (c) { return c.alg; }],
        ['Created', function (c) { return c.created_at; }], ['Last used', function (c) { return c.last_used_at || 'never'; }],
        ['', function (c) {
          return el('button', { type: 'button', cls: 'remove', 'data-id': c.id, text: 'Remove', on: { click: function () {
            api('DELETE', '/v1/auth/webauthn/credentials/' + encodeURIComponent(c.id), {}).then(function (x) {
              if (x.status === 204) notice('Passkey removed.');
              else if (x.code === 'step_up_required') notice('Removing a passkey needs a sign-in of the last 5 minutes: sign in again.');
              else notice('Removing the passkey failed: ' + (x.code || x.status));
              route();
            });
          } } });
        }]], rows);
      t.id = 'passkeys-table';
      rows.forEach(function (c, i) { t.tBodies[0].rows[i].setAttribute('data-id', c.id); });
      out.appendChild(rows.length ? t : el('p', { id: 'no-passkeys', text: 'No passkeys yet.' }));
    });
  };

  /* The requested change, briefly: its roles / groups / permissions (names only). */
  function changeSummary(c) {
    if (!c || typeof c !== 'object') return '';
    return ['roles', 'groups', 'permissions'].filter(function (k) { return Array.isArray(c[k]); })
      .map(function (k) { return k + ': ' + c[k].join(', '); }).join('; ');
  }

  pages.approvals = function () {
    var p = page('Pending approvals');
    var a = el('div', { id: 'approvals' });
    p.appendChild(a);
    p.appendChild(el('p', {}, ['Break-glass reviews: ', el('a', { href: '#/reviews', text: 'Reviews' })]));
    function decide(id, verb) {
      api('POST', '/v1/approvals/' + encodeURIComponent(id) + '/' + verb, { note: verb + ' in the console' })
        .then(function (x) { if (x.status >= 300) notice(verb + ' failed: ' + (x.code || x.status)); route(); });
    }
    return Promise.all([api('GET', '/v1/approvals')]).then(function (rs) {
      if (rs[0].status !== 200) a.appendChild(refusal(rs[0]));
      else {
        /* GET /v1/approvals: {"approvals":[{id, kind, status, requested_by, target, change,
         * created, expires, decided_by?, decided?, note?}]}; pending ones first */
        var rows = list(rs[0].body, 'approvals').slice().sort(function (x, y) {
          return (x.status === 'pending' ? 0 : 1) - (y.status === 'pending' ? 0 : 1);
        });
        var t = table([['Request', function (x) { return x.id; }], ['Kind', function (x) { return x.kind; }],
          ['Target', function (x) { return x.target; }],
          ['Change', function (x) { return changeSummary(x.change); }],
          ['Requested by', function (x) { return x.requested_by; }], ['Created', function (x) { return x.created; }],
          ['Status', function (x) { return x.status; }, function (x) { return 'status-' + x.status; }],
          ['', function (x) {
            if (x.status !== 'pending') return x.decided_by ? 'by ' + x.decided_by : '';
            return el('span', {}, [el('button', { type: 'button', cls: 'approve', 'data-id': x.id, text: 'Approve',
              on: { click: function () { decide(x.id, 'approve'); } } }),
              ' ', el('button', { type: 'button', cls: 'deny', 'data-id': x.id, text: 'Deny',
              on: { click: function () { decide(x.id, 'deny'); } } })]);
          }]], rows);
        t.id = 'approvals-table';
        rows.forEach(function (x, i) {
          t.tBodies[0].rows[i].setAttribute('data-id', x.id);
          t.tBodies[0].rows[i].setAttribute('data-status', x.status);
        });
        a.appendChild(t);
      }
    });
  };

  /* Break-glass reviews (GET /v1/reviews, access.approve): each grant with its
   * holder, subject reference, reason, justification and the reads made under
   * it (audit seqs); open ones first, with a note and the two verdicts
   * (POST /v1/reviews/{id} {"verdict","note"}, CSRF token as every change). */
  pages.reviews = function () {
    var p = page('Break-glass reviews');
    var rv = el('div', { id: 'reviews' });
    p.appendChild(rv);
    function settle(id, verdict, noteInput) {
      api('POST', '/v1/reviews/' + encodeURIComponent(id), { verdict: verdict, note: noteInput.value })
        .then(function (x) { if (x.status >= 300) notice('Verdict failed: ' + (x.code || x.status)); route(); });
    }
    return api('GET', '/v1/reviews').then(function (r) {
      if (r.status !== 200) { rv.appendChild(refusal(r)); return; }
      var rows = list(r.body, 'reviews').slice().sort(function (x, y) {
        return (x.status === 'open' ? 0 : 1) - (y.status === 'open' ? 0 : 1);
      });
      if (rows.length === 0) { rv.appendChild(el('p', { id: 'no-reviews', text: 'No break-glass use to review.' })); return; }
      var t = table([['Review', function (x) { return x.id; }],
        ['Holder', function (x) { return x.holder; }],
        ['Subject (reference)', function (x) { return (x.subject_ref || '').slice(0, 16) + '…'; }],
        ['Reason', function (x) { return x.reason_code; }],
        ['Justification', function (x) { return x.justification; }],
        ['Grant', function (x) { return x.grant ? x.grant.id + ' (' + x.grant.state + ')' : ''; }],
        ['Reads under it', function (x) {
          var reads = x.reads || [];
          if (reads.length === 0) return 'none';
          return el('ul', { cls: 'reads' }, reads.map(function (e) {
            return el('li', { text: 'seq ' + e.seq + ' ' + e.time + ' ' + e.action + ' ' + e.outcome + ' ' + e.resource });
          }));
        }],
        ['Due', function (x) { return x.due_at + (x.overdue ? ' (overdue)' : ''); }, function (x) { return x.overdue ? 'status-fail' : ''; }],
        ['Status', function (x) { return x.status; }, function (x) { return 'status-' + x.status; }],
        ['', function (x) {
          if (x.status !== 'open') return 'by ' + x.reviewed_by + (x.note ? ': ' + x.note : '');
          var note = el('input', { cls: 'review-note', 'aria-label': 'Note', placeholder: 'note' });
          return el('span', {}, [note, ' ',
            el('button', { type: 'button', cls: 'appropriate', 'data-id': x.id, text: 'Appropriate',
              on: { click: function () { settle(x.id, 'appropriate', note); } } }), ' ',
            el('button', { type: 'button', cls: 'inappropriate', 'data-id': x.id, text: 'Inappropriate',
              on: { click: function () { settle(x.id, 'inappropriate', note); } } })]);
        }]], rows);
      t.id = 'reviews-table';
      rows.forEach(function (x, i) {
        t.tBodies[0].rows[i].setAttribute('data-id', x.id);
        t.tBodies[0].rows[i].setAttribute('data-status', x.status);
        t.tBodies[0].rows[i].setAttribute('data-reads', String((x.reads || []).length));
      });
      rv.appendChild(t);
    });
  };

  /* ---------------------------------------------------------------- routing */

  function route() {
    if (!state.session) return;
    var name = (location.hash.replace(/^#\//, '') || 'compliance').split('?')[0];
    if (!pages[name]) name = 'compliance';
    Array.prototype.forEach.call(document.querySelectorAll('#nav a'), function (a) {
      a.className = a.getAttribute('href') === '#/' + name ? 'active' : '';
    });
    $('page').setAttribute('data-page', name);
    $('page').setAttribute('data-loaded', 'no');
    return pages[name]().then(function () { $('page').setAttribute('data-loaded', 'yes'); });
  }

  function showSignedIn(sess) {
    state.session = sess;
    if (sess.csrf_token) state.csrf = sess.csrf_token;
    $('signin').hidden = true;
    $('nav').hidden = false;
    $('who').hidden = false;
    $('page').hidden = false;
    $('whoami').textContent = sess.username + ' (' + (sess.roles || []).join(', ') + ')';
    notice('');
    startIdleTimer();
    route();
  }

  function signedOut(msg) {
    state.session = null; state.csrf = null; state.mfaToken = null;
    if (state.idleTimer) { clearInterval(state.idleTimer); state.idleTimer = null; }
    $('nav').hidden = true; $('who').hidden = true; $('page').hidden = true;
    $('page').textContent = '';
    $('signin').hidden = false;
    $('login-form').hidden = false; $('mfa-form').hidden = true;
    $('password').value = ''; $('code').value = '';
    notice(msg || '');
  }

  /* Client-side idle logoff mirroring [session] idle_timeout_s (GET /v1/auth/policy). */
  function startIdleTimer() {
    if (state.idleTimer) clearInterval(state.idleTimer);
    state.lastActive = Date.now();
    state.idleTimer = setInterval(function () {
      if (state.session && Date.now() - state.lastActive >= state.idleS * 1000) {
        api('POST', '/v1/auth/logout', {}).then(function () {
          signedOut('Signed out after ' + state.idleS + ' s without activity.');
        });
      }
    }, 1000);
  }

  function loadSession() {
    return api('GET', '/v1/auth/session').then(function (r) {
      if (r.status === 200) showSignedIn(r.body);
      else signedOut(r.code === 'session_expired' ? 'Your session expired: sign in again.' : '');
    });
  }

  function afterLogin(r) {
    if (r.status !== 200) {
      notice(r.code === 'locked' || r.code === 'rate_limited' ? 'Too many attempts: try again later.' :
        'Sign-in failed (' + (r.code || r.status) + ').');
      $('password').value = ''; $('code').value = '';
      return;
    }
    if (r.body.mfa_required) {
      /* the second factors the user has: a code field for totp, a button for webauthn */
      var methods = r.body.mfa_methods || ['totp'], totp = methods.indexOf('totp') >= 0;
      state.mfaToken = r.body.mfa_token;
      $('login-form').hidden = true; $('mfa-form').hidden = false;
      $('code-label').hidden = !totp; $('code').required = totp; $('mfa-button').hidden = !totp;
      $('passkey-button').hidden = methods.indexOf('webauthn') < 0 || !window.PublicKeyCredential;
      if (totp) $('code').focus();
      notice('');
      return;
    }
    state.mfaToken = null;
    state.csrf = r.body.csrf_token;
    if (r.body.restricted) {
      notice('Finish your first sign-in (new password, MFA enrolment) with `phivault login`, then sign in here.');
    }
    loadSession();
  }

  document.addEventListener('DOMContentLoaded', function () {
    $('login-form').addEventListener('submit', function (ev) {
      ev.preventDefault();
      api('POST', '/v1/auth/login', { username: $('username').value, password: $('password').value, cookie: true })
        .then(afterLogin);
    });
    $('mfa-form').addEventListener('submit', function (ev) {
      ev.preventDefault();
      api('POST', '/v1/auth/mfa', { mfa_token: state.mfaToken, code: $('code').value.trim(), cookie: true })
        .then(afterLogin);
    });
    $('passkey-button').addEventListener('click', function () {
      passkeySignIn().then(afterLogin, function (e) { browserError('The passkey', e); });
    });
    $('logout').addEventListener('click', function () {
      api('POST', '/v1/auth/logout', {}).then(function () { signedOut('Signed out.'); });
    });
    ['click', 'keydown'].forEach(function (e) {
      document.addEventListener(e, function () { state.lastActive = Date.now(); });
    });
    /* OIDC sign-in (docs/console.md): the button starts the flow at the
     * identity provider; its way back is /console/#oidc_code=CODE, a one-time
     * code exchanged for the cookie session like a password login's answer */
    $('sso-button').addEventListener('click', function () {
      window.location.assign('/v1/auth/oidc/start');
    });
    fetch('/v1/auth/oidc', { credentials: 'same-origin' }).then(function (r) { return r.json(); })
      .then(function (j) { $('sso').hidden = !(j && j.enabled); }).catch(function () {});
    var oidcCode = /^#oidc_code=([A-Za-z0-9_-]{1,128})$/.exec(window.location.hash);
    if (oidcCode) history.replaceState(null, '', window.location.pathname + '#/');
    window.addEventListener('hashchange', route);
    fetch('/v1/auth/policy', { credentials: 'same-origin' }).then(function (r) { return r.json(); })
      .then(function (j) { if (j && j.idle_timeout_s > 0) state.idleS = j.idle_timeout_s; })
      .catch(function () {}).then(function () {
        if (!oidcCode) return loadSession();
        return api('POST', '/v1/auth/oidc/exchange', { code: oidcCode[1], cookie: true }).then(afterLogin);
      });
  });
})();
