// A sign-in link `/#token=...` (printed by `make demo`) signs in without the token ever reaching
// a server log: the fragment stays in the browser, which posts it with the form like a typed one.

const form = document.getElementById("form-entrar");
const fragment = new URLSearchParams(window.location.hash.slice(1));
const token = fragment.get("token");
if (form && token) {
  history.replaceState(null, "", window.location.pathname + window.location.search);
  form.elements.token.value = token;
  form.requestSubmit();
}
