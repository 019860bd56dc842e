/* Push alerts on the device page (/me/device, crisis/pwa/templates/pwa/_push_settings.html).
 *
 * Shows whether this browser gets push alerts (on, off, blocked by the browser, not available),
 * turns them on (the browser's PushSubscription is sent to /api/v1/push/subscriptions) and off,
 * and asks the server for a test notification. Every word shown comes from the page's
 * data-text-* attributes, translated on the server.
 */
"use strict";
(function () {
  var root = document.getElementById("push-settings");
  if (!root) return;
  var texts = root.dataset;
  var statusEl = document.getElementById("push-status");
  var resultEl = document.getElementById("push-result");
  var onButton = document.getElementById("push-on");
  var offButton = document.getElementById("push-off");
  var testButton = document.getElementById("push-test");
  var csrfMeta = document.querySelector('meta[name="csrf-token"]');
  var csrf = csrfMeta ? csrfMeta.content : "";

  function say(state) {
    var key = "text" + state.charAt(0).toUpperCase() + state.slice(1);
    statusEl.textContent = texts[key] || state;
    statusEl.dataset.state = state;
    root.dataset.state = state;
    onButton.hidden = !(state === "off" || state === "removed");
    offButton.hidden = state !== "on";
  }

  function report(text) { resultEl.textContent = text; }

  function failed(detail) { report((texts.textFailed || "{detail}").replace("{detail}", detail)); }

  function api(method, path, body) {
    return fetch("/api/v1" + path, {
      method: method,
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "Accept": "application/json", "X-CSRFToken": csrf },
      body: body === undefined ? undefined : JSON.stringify(body)
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (json) {
        if (!response.ok) throw new Error(json.detail || String(response.status));
        return json;
      });
    });
  }

  function keyBytes(base64url) {
    var padded = (base64url + "===".slice((base64url.length + 3) % 4)).replace(/-/g, "+").replace(/_/g, "/");
    var raw = atob(padded);
    var bytes = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i++) bytes[i] = raw.charCodeAt(i);
    return bytes;
  }

  function sha256Hex(text) {
    return crypto.subtle.digest("SHA-256", new TextEncoder().encode(text)).then(function (digest) {
      return Array.prototype.map.call(new Uint8Array(digest), function (b) {
        return ("0" + b.toString(16)).slice(-2);
      }).join("");
    });
  }

  function serverRow(subscription) {
    // The device list on the page carries each subscription's endpoint hash, never the endpoint.
    return sha256Hex(subscription.endpoint).then(function (hash) {
      return root.querySelector('.push-device[data-endpoint-hash="' + hash + '"]');
    });
  }

  function registration() { return navigator.serviceWorker.ready; }

  function deviceLabel() {
    var ua = navigator.userAgent;
    var system = /Android/.test(ua) ? "Android" : /iPhone|iPad/.test(ua) ? "iOS" : /Windows/.test(ua) ? "Windows"
      : /Mac OS/.test(ua) ? "macOS" : /Linux/.test(ua) ? "Linux" : "";
    var browser = /Edg\//.test(ua) ? "Edge" : /Firefox\//.test(ua) ? "Firefox" : /Chrom/.test(ua) ? "Chrome"
      : /Safari\//.test(ua) ? "Safari" : "";
    return [browser, system].filter(Boolean).join(" / ") || null;
  }

  function refresh() {
    if (texts.available !== "1") { say("unavailable"); return Promise.resolve(); }
    if (!("serviceWorker" in navigator) || !("PushManager" in window) || !window.isSecureContext) {
      say("unsupported");
      testButton.hidden = true;
      return Promise.resolve();
    }
    if (window.Notification && Notification.permission === "denied") { say("blocked"); return Promise.resolve(); }
    return registration().then(function (reg) { return reg.pushManager.getSubscription(); }).then(function (sub) {
      if (!sub) { say("off"); return; }
      return serverRow(sub).then(function (row) {
        if (row && row.dataset.active === "1") say("on");
        else say(row ? "removed" : "off");
      });
    });
  }

  function turnOn() {
    report(texts.textWorking);
    Notification.requestPermission().then(function (permission) {
      if (permission !== "granted") { say(permission === "denied" ? "blocked" : "off"); report(""); return; }
      return registration().then(function (reg) {
        var fresh = function () {
          return reg.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: keyBytes(texts.publicKey) });
        };
        return reg.pushManager.getSubscription().then(function (old) {
          if (!old) return fresh();
          // One the push service has dropped (404/410) is replaced by a new one.
          if (root.dataset.state === "removed") return old.unsubscribe().then(fresh);
          return old;
        });
      }).then(function (sub) {
        var body = sub.toJSON();
        body.device_label = deviceLabel();
        return api("POST", "/push/subscriptions", body);
      }).then(function () { window.location.reload(); });
    }).catch(function (error) { failed(error.message || String(error)); });
  }

  function turnOff() {
    report(texts.textWorking);
    registration().then(function (reg) { return reg.pushManager.getSubscription(); }).then(function (sub) {
      if (!sub) return null;
      return serverRow(sub).then(function (row) {
        var done = row ? api("DELETE", "/push/subscriptions/" + row.dataset.subscriptionId) : Promise.resolve();
        return done.then(function () { return sub.unsubscribe(); });
      });
    }).then(function () { window.location.reload(); })
      .catch(function (error) { failed(error.message || String(error)); });
  }

  function sendTest() {
    report(texts.textWorking);
    api("POST", "/push/test").then(function (answer) {
      report((texts.textTestSent || "").replace("{accepted}", answer.accepted).replace("{devices}", answer.devices));
    }).catch(function (error) { failed(error.message || String(error)); });
  }

  onButton.addEventListener("click", turnOn);
  offButton.addEventListener("click", turnOff);
  testButton.addEventListener("click", sendTest);
  refresh().catch(function (error) { failed(error.message || String(error)); });
})();
