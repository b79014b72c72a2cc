// Calls to the JSON routes with the session cookie; writes carry the session's anti-CSRF token.

const csrf = () => document.querySelector('meta[name="csrf-token"]')?.content ?? "";

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

export async function call(path, params = {}, method = "GET") {
  const url = new URL(path, window.location.origin);
  for (const [name, value] of Object.entries(params)) url.searchParams.set(name, value);
  const headers = { Accept: "application/json" };
  if (method !== "GET") headers["X-CSRF-Token"] = csrf();
  const response = await fetch(url, { method, headers, credentials: "same-origin" });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) {
    throw new ApiError(response.status, body.erro ?? `o servidor respondeu HTTP ${response.status}`);
  }
  return body;
}

export function url(path, params) {
  const built = new URL(path, window.location.origin);
  for (const [name, value] of Object.entries(params)) built.searchParams.set(name, value);
  return built.pathname + built.search;
}
