/* Working without a connection, on the page side (docs/phone.md).
 *
 * - Says when a page is shown from the phone's cache, and since when
 *   (the service worker marks such a page with data-offline-fetched on <body>).
 * - While offline, the forms that mark a task done or blocked, tick its checklist,
 *   record a follow-up's outcome or acknowledge an alert are kept in a queue on
 *   the phone (IndexedDB), each with the row version it was made against. With a
 *   connection the forms are sent as usual; if sending one fails on the way, the
 *   service worker brings the page back (#offline-unsent) and it is queued then.
 * - Back online, the queue is sent in order through the JSON API with the
 *   session's CSRF token. A 409 (someone else changed it) or another refusal
 *   stays in the queue with the server's answer until the worker decides:
 *   keep mine (sent again against the version there is now) or drop mine.
 *   Nothing is ever dropped without the worker's say.
 * - Shows how many changes wait (top bar), lists them on /me/device, and warns
 *   at logout while some wait.
 *
 * Texts come from the JSON block #offline-config (crisis/pwa/routes.py), in the user's language.
 */
(function () {
  "use strict";

  var configNode = document.getElementById("offline-config");
  if (!configNode || !window.indexedDB) return;
  var config = JSON.parse(configNode.textContent);
  var text = config.text;
  var STASH = "krisstod-offline-unsent";

  function fill(template, values) {
    return template.replace(/\{(\w+)\}/g, function (all, key) {
      return Object.prototype.hasOwnProperty.call(values, key) ? String(values[key]) : all;
    });
  }

  function clock(iso) {
    var moment = new Date(iso);
    if (isNaN(moment.getTime())) return "";
    var zone = { timeZone: "Europe/Stockholm" };
    var time = moment.toLocaleTimeString("sv-SE", Object.assign({ hour: "2-digit", minute: "2-digit" }, zone));
    var day = moment.toLocaleDateString("sv-SE", zone);
    return day === new Date().toLocaleDateString("sv-SE", zone)
      ? time : moment.toLocaleDateString(document.documentElement.lang || "sv",
                                         Object.assign({ day: "numeric", month: "short" }, zone)) + " " + time;
  }

  // -- the queue in IndexedDB --------------------------------------------------------------

  function openDb() {
    return new Promise(function (resolve, reject) {
      var request = indexedDB.open("krisstod-offline", 1);
      request.onupgradeneeded = function () {
        request.result.createObjectStore("changes", { keyPath: "id", autoIncrement: true });
      };
      request.onsuccess = function () { resolve(request.result); };
      request.onerror = function () { reject(request.error); };
    });
  }

  function withStore(mode, work) {
    return openDb().then(function (db) {
      return new Promise(function (resolve, reject) {
        var transaction = db.transaction("changes", mode);
        var result = work(transaction.objectStore("changes"));
        transaction.oncomplete = function () { db.close(); resolve(result && result.result); };
        transaction.onerror = function () { db.close(); reject(transaction.error); };
      });
    });
  }

  var queue = {
    all: function () { return withStore("readonly", function (store) { return store.getAll(); }); },
    add: function (item) { return withStore("readwrite", function (store) { return store.add(item); }); },
    put: function (item) { return withStore("readwrite", function (store) { return store.put(item); }); },
    remove: function (id) { return withStore("readwrite", function (store) { return store.delete(id); }); },
    mine: function () {
      return queue.all().then(function (items) {
        return items.filter(function (item) { return item.user_id === config.user_id; })
          .sort(function (a, b) { return a.id - b.id; });
      });
    },
  };

  // -- what a form would change, in the API's terms ---------------------------------------

  var WRITES = [
    { kind: "task", pattern: /^\/tasks\/(\d+)$/ },
    { kind: "followup", pattern: /^\/followups\/(\d+)\/outcome$/ },
    { kind: "ack", pattern: /^\/dispatches\/(\d+)\/acknowledge$/ },
  ];

  function pageTitle() {
    var heading = document.querySelector("main h1");
    return (heading ? heading.textContent : document.title).trim().slice(0, 200);
  }

  /* The change a submitted form stands for, or null when it is not one that can wait on the phone. */
  /* Where a form goes (read from the attributes: a field named "method" or "action" hides the properties). */
  function formPath(form) {
    return new URL(form.getAttribute("action") || location.href, location.href).pathname;
  }

  function describe(form, submitter) {
    if ((form.getAttribute("method") || "get").toLowerCase() !== "post") return null;
    var path = formPath(form);
    var write = null, match = null;
    for (var i = 0; i < WRITES.length && !match; i++) {
      match = WRITES[i].pattern.exec(path);
      if (match) write = WRITES[i];
    }
    if (!match) return null;
    var data = new FormData(form);
    if (submitter && submitter.name) data.set(submitter.name, submitter.value);
    var version = parseInt(data.get("version"), 10);
    var item = {
      user_id: config.user_id, kind: write.kind, target: parseInt(match[1], 10),
      version: isNaN(version) ? null : version, label: pageTitle(), page: location.pathname,
      made_at: new Date().toISOString(), state: "waiting", change: {},
    };
    if (write.kind === "task") {
      var status = data.get("status");
      if (status) item.change.status = status;
      if (data.get("checklist")) {
        item.change.checklist = Array.prototype.map.call(
          form.querySelectorAll('input[type=checkbox][name^="check-"]'), function (box) { return box.checked; });
      }
      var noteField = form.querySelector("textarea[name=note]");
      if (noteField) item.change.note = data.get("note") || "";
      // What the page showed before this change (the task page only): if the server still has exactly
      // that in the fields this change sets, a newer version (say, the task was reassigned) is no conflict.
      var unchanged = form.querySelector(".actions button[name=status]");
      if (unchanged) {
        item.base = { status: unchanged.value };
        if (item.change.checklist) {
          item.base.checklist = Array.prototype.map.call(
            form.querySelectorAll('input[type=checkbox][name^="check-"]'), function (box) { return box.defaultChecked; });
        }
        if (noteField) item.base.note = noteField.defaultValue;
      }
      if (status === "blocked") item.change.blocked_reason = (data.get("blocked_reason") || "").trim();
      var title = form.closest(".task-card") && form.closest(".task-card").querySelector(".title");
      if (title) item.label = title.textContent.trim();
    } else if (write.kind === "followup") {
      ["outcome", "decline_reason", "channel", "note"].forEach(function (name) {
        var value = data.get(name);
        if (value) item.change[name] = value;
      });
    } else {
      var card = form.closest(".alert-card");
      var cardTitle = card && card.querySelector(".title");
      if (cardTitle) item.label = cardTitle.textContent.trim();
    }
    return item;
  }

  // -- the top bar's count, the banner, the list on /me/device -------------------------------

  var badge = document.getElementById("offline-badge");
  var banner = document.getElementById("offline-banner");
  var fetchedAt = document.body.dataset.offlineFetched;

  function showBanner() {
    if (!banner) return;
    if (fetchedAt) {
      banner.textContent = fill(text.fetched, { time: clock(fetchedAt) });
      banner.hidden = false;
    } else if (!navigator.onLine) {
      banner.textContent = text.no_connection;
      banner.hidden = false;
    } else {
      banner.hidden = true;
    }
  }

  function say(message, kind) {
    var main = document.getElementById("main");
    var note = document.getElementById("offline-message");
    if (!note) {
      note = document.createElement("p");
      note.id = "offline-message";
      note.setAttribute("role", "status");
      main.insertBefore(note, banner ? banner.nextSibling : main.firstChild);
    }
    note.className = "flash flash-" + (kind || "info");
    note.textContent = message;
    note.hidden = false;
  }

  function statusLabel(value) { return config.labels.task[value] || value; }

  function describeValues(kind, values) {
    var lines = [];
    if (!values) return lines;
    if (kind === "task") {
      if (values.status) lines.push(text.status + ": " + statusLabel(values.status));
      if (Array.isArray(values.checklist) && values.checklist.length) {
        var done = values.checklist.filter(function (item) { return item === true || (item && item.done); }).length;
        lines.push(fill(text.checklist, { done: done, total: values.checklist.length }));
      }
      if (values.blocked_reason) lines.push(text.blocked_reason + ": " + values.blocked_reason);
      if (values.note) lines.push(text.note + ": " + values.note);
    } else if (kind === "followup") {
      if (values.outcome) lines.push(text.outcome + ": " + (config.labels.outcome[values.outcome] || values.outcome));
      if (values.status && !values.outcome) {
        lines.push(text.status + ": " + (config.labels.followup[values.status] || values.status));
      }
      if (values.note || values.outcome_note) lines.push(text.note + ": " + (values.note || values.outcome_note));
    } else {
      lines.push(text.acknowledge);
    }
    return lines;
  }

  function listOf(lines, className) {
    var list = document.createElement("ul");
    list.className = className;
    lines.forEach(function (line) {
      var entry = document.createElement("li");
      entry.textContent = line;
      list.append(entry);
    });
    return list;
  }

  function button(label, action, id, primary) {
    var element = document.createElement("button");
    element.type = "button";
    element.textContent = label;
    element.dataset.action = action;
    element.dataset.id = String(id);
    if (primary) element.className = "primary";
    return element;
  }

  function renderItem(item) {
    var entry = document.createElement("li");
    entry.className = "offline-item offline-" + item.state;
    entry.dataset.id = String(item.id);
    entry.dataset.state = item.state;
    var title = document.createElement("p");
    title.className = "title";
    var link = document.createElement("a");
    link.href = item.page;
    link.textContent = item.label;
    title.append(link, " · " + fill(text.made_at, { time: clock(item.made_at) }));
    var state = document.createElement("p");
    state.className = "offline-state";
    state.textContent = text["state_" + item.state] + (item.message ? ": " + item.message : "");
    entry.append(title, state);
    if (item.state === "conflict") {
      var both = document.createElement("div");
      both.className = "offline-both";
      var theirs = document.createElement("div");
      theirs.className = "offline-theirs";
      theirs.append(Object.assign(document.createElement("h3"), { textContent: text.server_now }),
                    listOf(describeValues(item.kind, item.server), "plain"));
      var mine = document.createElement("div");
      mine.className = "offline-mine";
      mine.append(Object.assign(document.createElement("h3"), { textContent: text.yours }),
                  listOf(describeValues(item.kind, item.change), "plain"));
      both.append(theirs, mine);
      entry.append(both);
    } else {
      entry.append(listOf(describeValues(item.kind, item.change), "plain"));
    }
    var actions = document.createElement("div");
    actions.className = "actions";
    if (item.state === "conflict") {
      actions.append(button(text.keep, "keep", item.id, true), button(text.drop, "drop", item.id));
    } else {
      actions.append(button(text.retry, "retry", item.id), button(text.drop, "drop", item.id));
    }
    entry.append(actions);
    return entry;
  }

  function render() {
    return queue.all().then(function (items) {
      var mine = items.filter(function (item) { return item.user_id === config.user_id; })
        .sort(function (a, b) { return a.id - b.id; });
      var others = items.length - mine.length;
      var stuck = mine.filter(function (item) { return item.state !== "waiting"; }).length;
      if (badge) {
        badge.hidden = mine.length === 0;
        badge.textContent = stuck ? fill(text.attention, { count: stuck })
          : mine.length === 1 ? text.waiting_one : fill(text.waiting_many, { count: mine.length });
        badge.classList.toggle("needs-decision", stuck > 0);
      }
      var list = document.getElementById("offline-queue-list");
      if (!list) return mine;
      list.replaceChildren.apply(list, mine.map(renderItem));
      var summary = document.getElementById("offline-queue-summary");
      var parts = [mine.length === 0 ? text.none
        : mine.length === 1 ? text.waiting_one : fill(text.waiting_many, { count: mine.length })];
      if (others) parts.push(fill(text.other_user, { count: others }));
      summary.textContent = parts.join(" ");
      var sendNow = document.getElementById("offline-send-now");
      if (sendNow) sendNow.hidden = mine.length === 0;
      var warning = document.getElementById("offline-logout-warning");
      if (warning) {
        var asked = new URLSearchParams(location.search).get("logout") === "1";
        warning.hidden = !(asked && mine.length);
        document.getElementById("offline-logout-text").textContent = fill(text.logout_waiting, { count: mine.length });
      }
      return mine;
    });
  }

  // -- sending the queue ----------------------------------------------------------------------

  var sending = null;

  function freshToken() {
    return fetch(config.pages_url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        var json = (response.headers.get("Content-Type") || "").indexOf("application/json") === 0;
        if (!response.ok || response.redirected || !json) return null;  // the session has ended
        return response.json().then(function (body) {
          return body.user_id === config.user_id ? body.csrf_token : null;
        });
      });
  }

  function request(item, token) {
    var body = Object.assign({}, item.change);
    var url;
    if (item.kind === "task") {
      url = "/api/v1/tasks/" + item.target;
      body.version = item.version;
    } else if (item.kind === "followup") {
      url = "/api/v1/followups/" + item.target + "/outcome";
      body.version = item.version;
    } else {
      url = "/api/v1/dispatches/" + item.target + "/acknowledge";
    }
    if (body.version === null) delete body.version;
    return fetch(url, {
      method: item.kind === "task" ? "PATCH" : "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRFToken": token },
      body: JSON.stringify(body),
    });
  }

  function currentOnServer(item) {
    var url = item.kind === "task" ? "/api/v1/tasks/" + item.target
      : item.kind === "followup" ? "/api/v1/followups/" + item.target : null;
    if (!url) return Promise.resolve(null);
    return fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) { return response.ok ? response.json() : null; })
      .catch(function () { return null; });
  }

  function problemOf(response) {
    return response.json().then(function (body) {
      var details = (body.errors || []).map(function (error) { return error.message; }).filter(Boolean);
      return { detail: details.length ? details.join(" ") : body.detail || body.title, body: body };
    }).catch(function () { return { detail: response.status + " " + response.statusText, body: {} }; });
  }

  /* Whether a stale change overwrites nothing of anyone else's, so it may go again, once, against the
     version there is now:
     - a follow-up still open on the server has no outcome to overwrite (its version moved because it
       was re-dated, for instance by the first contact sent just before);
     - a task whose status, checklist and note are still what the page showed when the change was made
       (its version moved for another field, for instance the owner when an alert was acknowledged). */
  function rebasable(item, server) {
    if (item.rebased || !server || !server.version) return false;
    if (item.kind === "followup") return server.open === true;
    if (item.kind !== "task" || !item.base) return false;
    var same = server.status === item.base.status;
    if (same && item.base.checklist) {
      var now = (server.checklist || []).map(function (entry) { return !!entry.done; });
      same = JSON.stringify(now) === JSON.stringify(item.base.checklist);
    }
    if (same && "note" in item.base) same = (server.note || "") === item.base.note;
    return same;
  }

  function markStuck(item, response, server) {
    return problemOf(response).then(function (problem) {
      var stale = response.status === 409 || response.status === 412;
      item.state = stale ? "conflict" : "error";
      item.message = stale ? "" : problem.detail;
      item.status = response.status;
      item.server = server;
      return queue.put(item).then(function () { return true; });
    });
  }

  /* Send the waiting changes in order; resolves true when none is left. One tab at a time sends
     (a Web Lock), so a change is never sent twice. */
  function sendAll() {
    if (sending) return sending;
    if (!navigator.onLine) return Promise.resolve(false);
    var work = function () { return sendWaiting(); };
    sending = (navigator.locks ? navigator.locks.request("krisstod-offline-send", work) : work())
      .finally(function () { sending = null; });
    return sending;
  }

  function sendWaiting() {
    var tried = false;
    return queue.mine().then(function (items) {
      if (!items.some(function (item) { return item.state === "waiting"; })) return true;
      tried = true;
      say(text.sending, "info");
      return freshToken().then(function (token) {
        if (!token) { say(text.session_ended, "error"); forgetKeptPages(); return false; }
        var blocked = {};  // per row: an earlier change not sent keeps the later ones waiting (their order)
        var chain = Promise.resolve(true);
        items.forEach(function (item) {
          chain = chain.then(function (goOn) {
            var key = item.kind + ":" + item.target;
            if (!goOn || item.state !== "waiting" || blocked[key]) { blocked[key] = true; return goOn; }
            return request(item, token).then(function (response) {
              if (response.ok) return queue.remove(item.id).then(function () { return true; });
              if (response.status === 401) { say(text.session_ended, "error"); forgetKeptPages(); return false; }
              return problemOf(response).then(function (problem) {
                var stale = (response.status === 409 || response.status === 412) && item.kind !== "ack";
                return (stale ? currentOnServer(item) : Promise.resolve(null)).then(function (server) {
                  if (stale && rebasable(item, server)) {
                    // Nobody's outcome is overwritten: send it again once, against the version there is now.
                    item.version = server.version;
                    item.rebased = true;
                    return request(item, token).then(function (again) {
                      if (again.ok) return queue.remove(item.id).then(function () { return true; });
                      blocked[key] = true;
                      return markStuck(item, again, server);
                    });
                  }
                  item.state = stale ? "conflict" : "error";
                  item.message = stale ? "" : problem.detail;  // a conflict shows both values instead
                  item.status = response.status;
                  item.server = server;
                  blocked[key] = true;
                  return queue.put(item).then(function () { return true; });
                });
              });
            }, function () { return false; });  // the connection went again: the rest waits
          });
        });
        return chain;
      });
    }).then(function (finished) {
      return queue.mine().then(function (left) {
        var stuck = left.filter(function (item) { return item.state !== "waiting"; }).length;
        if (tried && finished && !left.length) {
          say(text.sent, "success");
          refreshKeptPages(true);
        } else if (tried && stuck) {
          say(fill(text.attention, { count: stuck }), "warning");
        }
        return render().then(function () { return finished && !left.length; });
      });
    });
  }

  // -- the worker's decisions on /me/device -----------------------------------------------------

  document.addEventListener("click", function (event) {
    var target = event.target.closest("button[data-action]");
    if (target && target.closest("#offline-queue-list")) {
      var id = parseInt(target.dataset.id, 10);
      queue.all().then(function (items) {
        var item = items.filter(function (i) { return i.id === id && i.user_id === config.user_id; })[0];
        if (!item) return null;
        if (target.dataset.action === "drop") return queue.remove(id);
        if (target.dataset.action === "keep" && item.server && item.server.version) item.version = item.server.version;
        item.state = "waiting";
        delete item.rebased;
        delete item.message;
        delete item.server;
        return queue.put(item);
      }).then(render).then(sendAll);
    } else if (event.target.id === "offline-send-now") {
      sendAll();
    } else if (event.target.id === "offline-send-and-logout") {
      sendAll().then(function (allSent) {
        if (allSent) document.querySelector("form[data-offline-force]").submit();
      });
    }
  });

  // -- forms: queued while offline, sent as usual otherwise ---------------------------------------

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (formPath(form) === "/logout") {
      if (form.dataset.offlineForce) return;
      event.preventDefault();
      queue.mine().then(function (items) {
        if (items.length) location.href = config.device_url + "?logout=1#offline-queue";
        else { form.dataset.offlineForce = "1"; form.submit(); }
      }, function () { form.dataset.offlineForce = "1"; form.submit(); });
      return;
    }
    var item = describe(form, event.submitter);
    if (!item) return;
    if (item.kind === "task" && item.change.status === "blocked" && !item.change.blocked_reason) {
      if (!navigator.onLine) { event.preventDefault(); say(text.blocked_needs_reason, "error"); }
      return;
    }
    if (navigator.onLine) {
      // Sent as usual; kept here in case it fails on the way (the service worker then comes back
      // to this page with #offline-unsent, and it is queued).
      sessionStorage.setItem(STASH, JSON.stringify(item));
      return;
    }
    event.preventDefault();
    queue.add(item).then(function () {
      markQueued(form);
      say(text.saved, "success");
      window.scrollTo(0, 0);
      return render();
    });
  }, true);

  /* A form whose change waits on the phone is not sent twice: its buttons rest until it has gone. */
  function markQueued(form) {
    form.classList.add("is-queued");
    Array.prototype.forEach.call(form.querySelectorAll("button"), function (b) { b.disabled = true; });
  }

  /* On a page read again before its changes went: say so, and rest the forms they came from. */
  function showQueuedHere(items) {
    var waiting = {};
    items.forEach(function (item) { waiting[item.kind + ":" + item.target] = true; });
    var found = false;
    Array.prototype.forEach.call(document.querySelectorAll("form"), function (form) {
      var item = describe(form, null);
      if (item && waiting[item.kind + ":" + item.target]) { markQueued(form); found = true; }
    });
    if (found && !document.getElementById("offline-message")) say(text.waiting_here, "info");
  }

  function takeUnsent() {
    var stashed = sessionStorage.getItem(STASH);
    sessionStorage.removeItem(STASH);
    if (location.hash !== "#offline-unsent") return Promise.resolve();
    history.replaceState(null, "", location.pathname + location.search);
    var item = stashed ? JSON.parse(stashed) : null;
    if (!item || item.user_id !== config.user_id) {
      say(text.not_sent, "error");  // a form that cannot wait on the phone (consent, a new date …)
      return Promise.resolve();
    }
    return queue.add(item).then(function () { say(text.saved, "success"); });
  }

  // -- pages kept for reading offline (the service worker fetches them) -------------------------

  function refreshKeptPages(force) {
    if (!config.keeps_pages || !navigator.onLine || !("serviceWorker" in navigator)) return;
    navigator.serviceWorker.ready.then(function (registration) {
      if (registration.active) registration.active.postMessage({ type: "offline-refresh", force: !!force });
    });
  }

  /* The session has ended: the pages kept for reading go (the queue stays). */
  function forgetKeptPages() {
    if (!window.caches) return;
    caches.keys().then(function (names) {
      names.forEach(function (name) { if (name.indexOf("krisstod-") === 0) caches.delete(name); });
    });
  }

  function showKeptPages() {
    var info = document.getElementById("offline-cache-info");
    if (!info || !window.caches) return;
    caches.open("krisstod-pages-u" + config.user_id).then(function (cache) { return cache.keys(); })
      .then(function (keys) { info.textContent = fill(text.cached_pages, { count: keys.length }); });
  }

  window.addEventListener("online", function () { showBanner(); sendAll(); });
  window.addEventListener("offline", showBanner);
  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.addEventListener("message", function (event) {
      if (event.data && event.data.type === "offline-refreshed") showKeptPages();
    });
  }

  showBanner();
  takeUnsent().then(render).then(function (mine) {
    showQueuedHere(mine || []);
    if (!fetchedAt && navigator.onLine) sendAll();
    if (!fetchedAt) refreshKeptPages(location.pathname === "/me/tasks");
    showKeptPages();
  });

})();
