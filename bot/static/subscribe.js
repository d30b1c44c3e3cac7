// Subscribing this browser to Ackbot's push pages, shared by the subscribe-link page (push.js) and
// the web view's Notifications page (notify.js): window.ackbotSubscribe(registration, publicKey)
// resolves to the PushSubscription made with the VAPID ``publicKey`` (base64url).
"use strict";

(function () {
  function keyBytes(base64url) {
    const base64 = base64url.replace(/-/g, "+").replace(/_/g, "/");
    const padded = base64 + "=".repeat((4 - (base64.length % 4)) % 4);
    return Uint8Array.from(window.atob(padded), (character) => character.charCodeAt(0));
  }

  window.ackbotSubscribe = async function (registration, publicKey) {
    const options = { userVisibleOnly: true, applicationServerKey: keyBytes(publicKey) };
    try {
      return await registration.pushManager.subscribe(options);
    } catch (error) {
      // A subscription made with another server key (the operator rotated it) must go first.
      const existing = await registration.pushManager.getSubscription();
      if (error.name !== "InvalidStateError" || !existing) throw error;
      await existing.unsubscribe();
      return registration.pushManager.subscribe(options);
    }
  };
})();
