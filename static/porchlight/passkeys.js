// After django-otp-webauthn's script has registered a passkey, go on to the page the server named.
document.addEventListener("otp_webauthn.register_complete", () => {
  const holder = document.querySelector("[data-passkey-continue]");
  if (holder) window.location.assign(holder.dataset.passkeyContinue);
});
