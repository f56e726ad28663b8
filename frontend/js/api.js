// api: the REST API client. Every call returns parsed JSON or throws an
// ApiError whose message is the API's own error text, shown as it is.

const TOKEN_KEY = "kiln.adminToken";

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

async function parse(res, path) {
  let body = null;
  const text = await res.text();
  try { body = text ? JSON.parse(text) : null; } catch { body = null; }
  if (!res.ok) {
    const e = body && body.error;
    throw new ApiError(res.status, e ? e.code : "http",
      e ? e.message : `${path} answered ${res.status} ${res.statusText}`);
  }
  return body;
}

// GET path (with query object); signal aborts it when the page is left.
export async function get(path, query, signal) {
  const url = new URL(path, location.origin);
  for (const [k, v] of Object.entries(query || {}))
    if (v !== undefined && v !== null && v !== "") url.searchParams.set(k, v);
  let res;
  try {
    res = await fetch(url, { signal, headers: { Accept: "application/json" } });
  } catch (err) {
    if (err.name === "AbortError") throw err;
    throw new ApiError(0, "network", `could not reach the server: ${err.message}`);
  }
  return parse(res, url.pathname);
}

export async function getText(path, signal) {
  const res = await fetch(path, { signal });
  if (!res.ok) return parse(res, path);
  return res.text();
}

export function adminToken() {
  try { return localStorage.getItem(TOKEN_KEY) || ""; } catch { return ""; }
}

export function setAdminToken(token) {
  if (token) localStorage.setItem(TOKEN_KEY, token);
  else localStorage.removeItem(TOKEN_KEY);
  window.dispatchEvent(new Event("kiln-admin"));
}

// Call an admin route (POST unless method says otherwise) with the stored
// token; body is an object or undefined.
export async function admin(path, body, method = "POST") {
  const token = adminToken();
  if (!token) throw new ApiError(401, "unauthorized", "no admin token is set (see Admin)");
  const headers = { Authorization: `Bearer ${token}`, Accept: "application/json" };
  let payload = "";
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    payload = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(path, { method, headers, body: method === "GET" ? undefined : payload });
  } catch (err) {
    throw new ApiError(0, "network", `could not reach the server: ${err.message}`);
  }
  return parse(res, path);
}

export const enc = encodeURIComponent;
