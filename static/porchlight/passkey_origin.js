// Browsers refuse WebAuthn on an IP address, outside a secure context, or on a host the
// passkeys' RP ID does not cover (WebAuthn Level 3 §5.1.3 step 7-8, §13.4.9); the ceremony then
// fails with an unhelpful error. On such a page, put a one-line reason (and the address that
// works) in place of the passkey buttons before django-otp-webauthn's script shows them. This
// script runs where it stands, after the button templates and before that (deferred) script.
(() => {
  const { rpId, origin } = document.currentScript.dataset;
  const host = location.hostname;
  const isIpAddress = /^[0-9.]+$/.test(host) || host.includes(":") || host.startsWith("[");
  const covered = rpId && (host === rpId || host.endsWith(`.${rpId}`));
  if (window.isSecureContext && !isIpAddress && covered) return;

  const reason = document.createElement("p");
  reason.className = "small passkey-unusable";
  reason.textContent = isIpAddress
    ? `Passkeys don’t work on an IP address (${host}).`
    : `Passkeys don’t work at ${location.origin}.`;
  if (origin && origin !== location.origin) {
    const link = document.createElement("a");
    link.href = origin + location.pathname + location.search;
    link.textContent = `Open ${origin}`;
    reason.append(" ", link, " to use them.");
  }
  for (const id of [
    "passkey-verification-available-template",
    "passkey-verification-unavailable-template",
    "passkey-registration-available-template",
    "passkey-registration-unavailable-template",
  ]) {
    const holder = document.getElementById(id);
    if (holder) holder.content.replaceChildren(reason.cloneNode(true));
  }
})();
