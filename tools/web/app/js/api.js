// The Secure Login API, as the app calls it. The base URL comes from config.js
// (window.SLS_CONFIG.apiBaseUrl; empty: this page's own origin, as on the local stack).

export class ApiError extends Error {
  constructor(status, code, message, body = {}) {
    super(message);
    this.status = status;
    this.code = code;
    this.body = body;
  }
}

export function baseUrl() {
  const configured = (window.SLS_CONFIG && window.SLS_CONFIG.apiBaseUrl) || "";
  return configured.replace(/\/+$/, "");
}

// A request that changes something carries an Idempotency-Key (api.md): when its answer is lost
// (the network failed) or the service answered 503, the same request goes again with the same
// key, and the service answers as it did the first time (an activation returns the same secret
// once more) instead of doing it twice.
const CHANGES = new Set(["POST", "PUT", "DELETE"]);
const RETRIES = 2;
const LONGEST_WAIT_MS = 3000;

function newIdempotencyKey() {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

const pause = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

export async function call(method, path, body) {
  const init = { method, headers: { Accept: "application/json" }, cache: "no-store", credentials: "omit" };
  const retries = CHANGES.has(method) ? RETRIES : 0;
  if (retries) init.headers["Idempotency-Key"] = newIdempotencyKey();
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  for (let attempt = 0; ; attempt += 1) {
    try {
      response = await fetch(baseUrl() + path, init);
    } catch {
      if (attempt < retries) {
        await pause(500 * (attempt + 1));
        continue;
      }
      throw new ApiError(0, "network", "The service cannot be reached. Check the connection and try again.");
    }
    if (response.status !== 503 || attempt >= retries) break;
    const seconds = Number.parseInt(response.headers.get("retry-after") || "1", 10);
    await pause(Math.min(LONGEST_WAIT_MS, 1000 * (Number.isFinite(seconds) ? seconds : 1)));
  }
  let payload = {};
  const text = await response.text();
  if (text) {
    try {
      payload = JSON.parse(text);
    } catch {
      payload = {};
    }
  }
  if (!response.ok) {
    const error = (payload && payload.error) || {};
    throw new ApiError(response.status, error.code || `http_${response.status}`,
      error.message || `The service answered ${response.status}.`, payload);
  }
  return payload;
}

// Words for the error codes the app's routes can answer, where the service's own message
// could use the app's vocabulary; anything else shows the service's message.
const WORDS = {
  invalid_credentials: "The username or password is not right.",
  phone_not_on_file: "That phone number is not on file for this user. Use a number on file, or activate "
    + "from the Client Portal with the session ID.",
  invalid_activation_code: "That activation code is not right.",
  activation_expired: "The activation has expired. Start again to get a new code.",
  qr_expired_or_used: "This session ID has expired or was already used. Ask the Client Portal for a new one.",
  unknown_session_id: "No session ID like this one was issued. Check it against the Client Portal's, or ask "
    + "the Client Portal for a new one.",
  already_enrolled: "This user is already registered on this app.",
  invalid_pin: "That is not this app's PIN.",
  invalid_response: "That response is not right.",
  invalid_signature: "The service did not accept this phone's signature. Recover the setup.",
  expired: "This request has expired or was already answered.",
  number_mismatch: "The number you typed is not the one on the screen that asked: this request is over.",
  device_not_found: "This phone is no longer registered for that user. Recover the setup.",
  contact_client_services: "We cannot verify you from the app. Please contact Client Services.",
  too_many_attempts: "Too many attempts. Wait a little and try again.",
  resend_too_soon: "A code was sent a moment ago. Wait two minutes before asking for another.",
  service_unavailable: "The service is busy. Try again in a moment.",
  network: "The service cannot be reached. Check the connection and try again.",
};

export function describe(error) {
  if (!(error instanceof ApiError)) return error && error.message ? error.message : String(error);
  let words = WORDS[error.code] || error.message;
  if (error.code === "weak_pin" || error.code === "invalid_request") words = error.message;
  const body = error.body && error.body.error ? error.body.error : {};
  const extra = error.body || {};
  const attempts = body.attempts_left ?? extra.attempts_left;
  const retry = body.retry_after_seconds ?? extra.retry_after_seconds;
  if (attempts !== undefined) words += ` ${attempts} attempt${attempts === 1 ? "" : "s"} left.`;
  if (retry !== undefined) words += ` Try again in ${Math.ceil(retry / 60)} minute${retry > 60 ? "s" : ""}.`;
  if (error.code === "pin_locked") words = `Too many wrong PINs: this app's PIN is locked.${
    retry !== undefined ? ` Try again in ${Math.ceil(retry / 60)} minutes.` : ""}`;
  return words;
}
