// "Turn on notifications in this browser" on the signed-in person's page: says plainly when the
// browser cannot or will not show notifications, otherwise subscribes through Ackbot's service
// worker and posts the subscription with the page's session and CSRF token.
"use strict";

(function () {
  const root = document.getElementById("notify");
  if (!root) return;
  const button = document.getElementById("notify-on");
  const status = document.getElementById("notify-status");
  const DENIED = "Notifications are blocked for this site. Allow them in the browser's site settings " +
    "(the icon left of the address), then reload this page.";

  function show(state, text) {
    root.dataset.state = state;
    status.textContent = text;
  }

  // Why this browser cannot subscribe at all, or null.
  function refusal() {
    if (!window.isSecureContext) {
      return ["insecure", "Browsers allow notifications only on https:// pages and on localhost. " +
        "Open Ackbot at its https:// address, or at http://localhost on the computer it runs on."];
    }
    if (!("serviceWorker" in navigator && "PushManager" in window && "Notification" in window)) {
      return ["unsupported", "This browser cannot receive push notifications here. On iPhone and iPad: " +
        "Share, then Add to Home Screen, open Ackbot from the Home Screen and turn notifications on there."];
    }
    if (window.Notification.permission === "denied") return ["denied", DENIED];
    return null;
  }

  // The worker lives under /push/ (not this page's scope), so wait for it to activate here.
  async function activeRegistration() {
    const registration = await navigator.serviceWorker.register("/push/sw.js", { scope: "/push/" });
    const worker = registration.installing || registration.waiting;
    if (!registration.active && worker) {
      await new Promise((resolve) => worker.addEventListener("statechange", () => {
        if (worker.state === "activated" || worker.state === "redundant") resolve();
      }));
    }
    return registration;
  }

  async function keep(subscription) {
    const body = new URLSearchParams({ csrf: root.dataset.csrf, subscription: JSON.stringify(subscription) });
    const response = await fetch("/me/push", { method: "POST", body, credentials: "same-origin" });
    const answer = await response.json().catch(() => ({}));
    if (!response.ok) throw new Error(answer.error || "Ackbot answered HTTP " + response.status);
    return answer.message;
  }

  async function turnOn() {
    button.disabled = true;
    try {
      const permission = await window.Notification.requestPermission();
      if (permission === "denied") return show("denied", DENIED);
      if (permission !== "granted") return show("ready", "Notifications were not allowed: click again and choose Allow.");
      show("subscribing", "Turning on…");
      show("subscribed", (await keep(await window.ackbotSubscribe(await activeRegistration(), root.dataset.publicKey))) +
        " Send yourself a test page to see one.");
    } catch (error) {
      const privateWindow = error.name === "NotAllowedError" ? " A private (incognito) window cannot get push notifications: use a normal one." : "";
      show("failed", "Could not turn on notifications: " + error.message.replace(/\.?$/, ".") + privateWindow);
    } finally {
      button.disabled = false;
    }
  }

  const refused = refusal();
  if (refused) return show(...refused);
  button.addEventListener("click", turnOn);
  button.disabled = false;
  show("ready", "Click the button, then allow notifications when the browser asks.");
})();
