// Passkeys: "Passkey of beveiligingssleutel toevoegen" on the padlock page and
// "Inloggen met passkey" on the login page. The browser's own WebAuthn dialog does
// the work; this only carries the JSON both ways (the browser's JSON helpers, no
// hand-written base64url). Without WebAuthn support the buttons stay hidden.
(() => {
  const supported =
    window.PublicKeyCredential &&
    typeof PublicKeyCredential.parseCreationOptionsFromJSON === "function" &&
    typeof PublicKeyCredential.parseRequestOptionsFromJSON === "function";

  const csrfToken = () => document.querySelector("[name=csrfmiddlewaretoken]").value;

  async function post(url, body) {
    const response = await fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken() },
      body: JSON.stringify(body || {}),
    });
    let data = {};
    try {
      data = await response.json();
    } catch (error) {
      data = {};
    }
    if (!response.ok) throw new Error(data.error || response.statusText);
    return data;
  }

  function show(box, message) {
    box.textContent = message;
    box.hidden = false;
  }

  document.querySelectorAll("[data-passkey-add]").forEach((form) => {
    const error = form.querySelector("[data-passkey-error]");
    if (!supported) {
      show(error, form.dataset.unsupported);
      return;
    }
    form.querySelector("button").hidden = false;
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      error.hidden = true;
      try {
        const { options } = await post(form.dataset.optionsUrl);
        const publicKey = PublicKeyCredential.parseCreationOptionsFromJSON(options);
        const credential = await navigator.credentials.create({ publicKey });
        const name = form.querySelector("[name=name]").value;
        const done = await post(form.action, { name, credential: credential.toJSON() });
        window.location.assign(done.redirect);
      } catch (failure) {
        show(error, failure.name === "NotAllowedError" ? form.dataset.cancelled : failure.message);
      }
    });
  });

  document.querySelectorAll("[data-passkey-login]").forEach((button) => {
    const error = document.querySelector("[data-passkey-error]");
    if (!supported) return;
    button.hidden = false;
    button.addEventListener("click", async () => {
      error.hidden = true;
      try {
        const { options } = await post(button.dataset.optionsUrl);
        const publicKey = PublicKeyCredential.parseRequestOptionsFromJSON(options);
        const credential = await navigator.credentials.get({ publicKey });
        const done = await post(button.dataset.loginUrl, {
          credential: credential.toJSON(),
          next: button.dataset.next,
        });
        window.location.assign(done.redirect);
      } catch (failure) {
        show(error, failure.name === "NotAllowedError" ? button.dataset.cancelled : failure.message);
      }
    });
  });
})();
