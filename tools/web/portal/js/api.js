// The Secure Login API over fetch, and the session kept in sessionStorage (never
// localStorage: it ends with the tab). Nothing here logs a token, a code or a password.

const SESSION_KEY = "sls.session";

function baseUrl() {
  const configured = (window.SLS_CONFIG && window.SLS_CONFIG.apiBaseUrl) || "";
  return String(configured).replace(/\/+$/, "");
}

/** An answer of 4xx/5xx: `code` and the extra fields of api.md's error model. */
export class ApiError extends Error {
  constructor(status, error, retryAfterHeader) {
    super(error.message || error.code || `HTTP ${status}`);
    this.status = status;
    this.code = error.code || "unknown";
    this.detail = error;
    const header = Number.parseInt(retryAfterHeader || "", 10);
    this.retryAfterSeconds = Number.isInteger(error.retry_after_seconds) ? error.retry_after_seconds
      : (Number.isFinite(header) ? header : null);
  }
}

// The service's clock as the browser sees it: the Date header of same-origin answers (it is
// not exposed across origins), used only when it differs by more than a couple of seconds.
let serverOffsetMs = 0;
export function serverNow() {
  return Date.now() + serverOffsetMs;
}

function noteServerDate(response) {
  const date = Date.parse(response.headers.get("date") || "");
  if (Number.isNaN(date)) return;
  const offset = date - Date.now();
  serverOffsetMs = Math.abs(offset) > 2500 ? offset : 0;
}

// Called when a session route answers 401: the session ended (expired, revoked).
let onSessionEnded = () => {};
export function whenSessionEnds(callback) {
  onSessionEnded = callback;
}

// A request that changes something carries an Idempotency-Key (api.md): when its answer is lost
// (the network failed) or the service answered 503, the same request goes again with the same
// key, and the service answers as it did the first time instead of doing it twice.
const CHANGES = new Set(["POST", "PUT", "DELETE"]);
const RETRIES = 2;
const LONGEST_WAIT_MS = 3000;

function newIdempotencyKey() {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

const pause = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** fetch, sent again (same key) after a network failure or a 503, at most RETRIES times. */
async function send(url, init, retries) {
  for (let attempt = 0; ; attempt += 1) {
    try {
      const response = await fetch(url, init);
      if (response.status !== 503 || attempt >= retries) return response;
      const seconds = Number.parseInt(response.headers.get("retry-after") || "1", 10);
      await pause(Math.min(LONGEST_WAIT_MS, 1000 * (Number.isFinite(seconds) ? seconds : 1)));
    } catch (failure) {
      if (attempt >= retries) throw failure;
      await pause(500 * (attempt + 1));
    }
  }
}

/**
 * One API call. `body` is sent as JSON; `auth` is "session" (the stored token), a token, or
 * null. Resolves with the parsed body (null for 204); rejects with ApiError, or with a
 * TypeError when the service cannot be reached. A call that changes something has a key of
 * its own (a new call, such as the one a step-up repeats, has a new key).
 */
export async function call(method, path, body = undefined, auth = "session") {
  const headers = {Accept: "application/json"};
  const token = auth === "session" ? session()?.token : auth;
  if (token) headers.Authorization = `Bearer ${token}`;
  const changes = CHANGES.has(method);
  if (changes) headers["Idempotency-Key"] = newIdempotencyKey();
  const init = {method, headers, credentials: "omit", cache: "no-store", referrerPolicy: "no-referrer"};
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const response = await send(baseUrl() + path, init, changes ? RETRIES : 0);
  noteServerDate(response);
  const text = await response.text();
  let parsed = null;
  if (text) {
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = null;
    }
  }
  if (response.ok) return parsed;
  const error = (parsed && typeof parsed.error === "object" && parsed.error) || {code: `http_${response.status}`};
  const failure = new ApiError(response.status, error, response.headers.get("retry-after"));
  if (response.status === 401 && failure.code === "unauthorized" && token && auth === "session") onSessionEnded();
  throw failure;
}

/** The stored session: {token, scope, expires_at, via} or null. */
export function session() {
  try {
    const stored = JSON.parse(sessionStorage.getItem(SESSION_KEY) || "null");
    if (!stored || typeof stored.token !== "string") return null;
    if (Date.parse(stored.expires_at) <= serverNow()) {
      sessionStorage.removeItem(SESSION_KEY);
      return null;
    }
    return stored;
  } catch {
    return null;
  }
}

export function keepSession(granted, via) {
  sessionStorage.setItem(SESSION_KEY, JSON.stringify({
    token: granted.session_token, scope: granted.scope, expires_at: granted.expires_at, via,
  }));
}

export function forgetSession() {
  sessionStorage.removeItem(SESSION_KEY);
}

/** Path segments built from ids the API gave: always escaped. */
export function seg(value) {
  return encodeURIComponent(String(value));
}
