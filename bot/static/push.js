// The subscribe page: registers the service worker, asks for permission when the button is
// clicked, subscribes this browser and registers the subscription with the page's credential.
"use strict";

(function () {
  const root = document.getElementById("push");
  const button = document.getElementById("subscribe");
  const status = document.getElementById("status");
  const base = new URL("../", window.location.href);

  function show(state, text) {
    root.dataset.state = state;
    status.textContent = text;
  }

  async function register(subscription) {
    const response = await fetch(new URL("subscriptions", base), {
      method: "POST",
      credentials: "omit",
      headers: { "Content-Type": "application/json", Authorization: "Bearer " + root.dataset.credential },
      body: JSON.stringify(subscription),
    });
    const answer = await response.json().catch(() => ({}));
    if (!response.ok) throw new Error(answer.error || "Ackbot answered HTTP " + response.status);
    return answer.message;
  }

  async function subscribe() {
    button.disabled = true;
    try {
      const permission = await window.Notification.requestPermission();
      if (permission !== "granted") {
        show("blocked", "Notifications are blocked for this site. Allow them in the browser's site settings, then try again.");
        button.disabled = false;
        return;
      }
      show("subscribing", "Subscribing…");
      const registration = await navigator.serviceWorker.ready;
      const message = await register(await window.ackbotSubscribe(registration, root.dataset.publicKey));
      show("subscribed", message);
      button.hidden = true;
    } catch (error) {
      show("failed", "Could not turn on notifications: " + error.message);
      button.disabled = false;
    }
  }

  if (!("serviceWorker" in navigator && "PushManager" in window && "Notification" in window)) {
    show("unsupported", "This browser cannot receive push notifications here (on iPhone and iPad: add the page to the Home Screen first).");
    return;
  }
  show("installing", "Preparing notifications…");
  navigator.serviceWorker.register(new URL("sw.js", base), { scope: base.pathname }).then(
    () => {
      button.addEventListener("click", subscribe);
      button.disabled = false;
      show("ready", "Ready: click the button and allow notifications.");
    },
    (error) => show("failed", "Could not install the notification worker: " + error.message),
  );
})();
