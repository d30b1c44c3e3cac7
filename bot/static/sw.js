// Ackbot's service worker: shows each page as a notification with its Acknowledge/Resolve
// actions; an action POSTs its one-time token, so nothing needs to open; a plain click opens
// the confirmation page.
"use strict";

self.addEventListener("install", () => self.skipWaiting());
self.addEventListener("activate", (event) => event.waitUntil(self.clients.claim()));

function readMessage(event) {
  try {
    const message = event.data ? event.data.json() : {};
    return {
      title: message.title || "Ackbot",
      body: message.body || "",
      tag: message.tag || "ackbot",
      kind: message.kind,
      priority: message.priority,
      url: message.url || null,
      actions: Array.isArray(message.actions) ? message.actions : [],
    };
  } catch (error) {
    return { title: "Ackbot", body: "A page arrived that this device could not read.", tag: "ackbot", url: null, actions: [] };
  }
}

self.addEventListener("push", (event) => {
  const message = readMessage(event);
  const urgent = message.kind === "ALERT" && (message.priority === "CRITICAL" || message.priority === "HIGH");
  event.waitUntil(
    self.registration.showNotification(message.title, {
      body: message.body,
      tag: message.tag,
      renotify: message.kind === "ALERT",
      requireInteraction: urgent,
      actions: message.actions.map((action) => ({ action: action.action, title: action.title })),
      data: { url: message.url, actions: message.actions },
    }),
  );
});

// {public_url}/a/{token} (the confirmation page) → {public_url}/push/act/{token} (acts, answers JSON).
function actUrl(linkUrl) {
  const url = new URL(linkUrl);
  url.pathname = url.pathname.replace(/\/a\/([^/]+)$/, "/push/act/$1");
  return url.href;
}

async function act(action, notification) {
  let text;
  let retryUrl = null;
  try {
    const response = await fetch(actUrl(action.url), { method: "POST", credentials: "omit", cache: "no-store" });
    const answer = await response.json();
    text = answer.message || answer.error || "Ackbot answered HTTP " + response.status;
  } catch (error) {
    text = "Could not reach Ackbot (" + error.message + "). Tap to open the page and try again.";
    retryUrl = action.url;
  }
  await self.registration.showNotification(notification.title, {
    body: text,
    tag: notification.tag,
    data: { url: retryUrl, actions: [] },
  });
}

self.addEventListener("notificationclick", (event) => {
  const data = event.notification.data || {};
  const chosen = (data.actions || []).find((action) => action.action === event.action);
  event.notification.close();
  if (chosen) {
    event.waitUntil(act(chosen, event.notification));
  } else if (data.url) {
    event.waitUntil(self.clients.openWindow(data.url));
  }
});
