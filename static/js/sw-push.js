/* Push alerts (issue 16, item 4), part of the service worker /sw.js.
 *
 * A push from the server (crisis.push.services) is JSON:
 *   {type: "dispatch", ref, kind, title, body, url, action, acked, ack_failed,
 *    ack_token, ack_url, tag, lang}   or   {type: "test", title, body, url, tag}
 * with the alert's reference, its kind and its link: no name, address or phone, like the SMS.
 *
 * It is shown as a notification. Tapping the notification opens the alert (`url`, which asks
 * for a login like the SMS link). Its button "Kvittera – jag tar det" (`action`) acknowledges
 * the alert without opening anything: it POSTs the push's single-use token to /push/ack, which
 * needs no session and no CSRF token (the phone's session may have expired; the token is bound
 * to this alert and this person). The answer replaces the notification.
 *
 * The same click handling can be asked for by a page of this site with a message
 * {type: "push-notification-click", tag, action}; the browser tests use it, because a system
 * notification cannot be clicked in a headless browser (tests/browser/test_push_alert.py).
 */
"use strict";

var PUSH_ICON = "/static/icons/icon-192.png";

self.addEventListener("push", function (event) {
  var data = {};
  try {
    data = event.data ? event.data.json() : {};
  } catch (error) {
    data = {};
  }
  event.waitUntil(showPush(data));
});

function showPush(data) {
  var info = {
    type: data.type || "dispatch",
    url: typeof data.url === "string" && data.url.charAt(0) === "/" ? data.url : "/me/tasks",
    ref: data.ref || "",
    ackToken: data.ack_token || null,
    ackUrl: data.ack_url || "/push/ack",
    acked: data.acked || "",
    ackFailed: data.ack_failed || ""
  };
  var options = {
    body: data.body || "",
    tag: data.tag || "krisstod",
    renotify: true,
    requireInteraction: info.type === "dispatch",
    lang: data.lang || "sv",
    icon: PUSH_ICON,
    badge: PUSH_ICON,
    data: info,
    actions: info.ackToken && data.action ? [{ action: "ack", title: data.action }] : []
  };
  return self.registration.showNotification(data.title || "Krisstöd", options);
}

/* POST the push's token: the alert is acknowledged as this person, "via push". */
function acknowledgeFromPush(info) {
  return fetch(info.ackUrl, {
    method: "POST",
    credentials: "omit",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ token: info.ackToken })
  }).then(function (response) {
    return response.json().catch(function () { return {}; }).then(function (answer) {
      answer.status = response.status;
      return answer;
    });
  }).catch(function () {
    return { outcome: "offline", status: 0 };
  }).then(function (answer) {
    var ok = answer.outcome === "acknowledged" || answer.outcome === "already_acknowledged";
    var text = ok ? info.acked : info.ackFailed;
    return self.registration.showNotification(text || info.ref, {
      tag: "ack-" + info.ref,
      icon: PUSH_ICON,
      lang: "sv",
      // Not acknowledged: tapping this one opens the alert instead.
      data: { type: "ack-result", url: info.url }
    }).then(function () { return answer; });
  });
}

/* The alert in a window of the app already open (one this worker controls), else a new one. */
function openAlert(url) {
  return self.clients.matchAll({ type: "window" }).then(function (windows) {
    var open = windows.filter(function (w) { return "navigate" in w; })[0];
    if (!open) return self.clients.openWindow(url);
    return open.navigate(url).then(function (client) {
      return (client || open).focus();
    }).catch(function () {
      return self.clients.openWindow(url);
    });
  });
}

/* What a click on the notification (`action` "" for its body, "ack" for the button) does. */
function onNotificationClick(notification, action) {
  var info = notification.data || {};
  notification.close();
  if (action === "ack" && info.ackToken) return acknowledgeFromPush(info);
  return openAlert(info.url || "/me/tasks").then(function () { return { outcome: "opened" }; });
}

self.addEventListener("notificationclick", function (event) {
  event.waitUntil(onNotificationClick(event.notification, event.action));
});

self.addEventListener("message", function (event) {
  var message = event.data || {};
  if (message.type !== "push-notification-click") return;
  var reply = function (result) {
    if (event.source) event.source.postMessage({ type: "push-notification-click-result", result: result });
  };
  event.waitUntil(self.registration.getNotifications({ tag: message.tag }).then(function (shown) {
    if (!shown.length) return reply({ outcome: "no_notification" });
    return onNotificationClick(shown[0], message.action || "").then(reply);
  }));
});
