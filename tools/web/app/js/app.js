// The IB Key app: a browser stand-in for IBKR Mobile's authenticator.
//
// Page ids (tests and docs rely on them):
//   tabs           #tab-notifications #tab-authenticate #tab-register #tab-recover #tab-card #tab-users
//                  (each shows #panel-<name>); #app[data-ready] once the stored state is loaded
//   notifications  #notifications > li[data-transaction-id][data-device-id], each with .pin, .approve,
//                  .deny and its own .error; #notifications-status (what waits), #notifications-answered
//                  (the last decision sent), #notification-count
//   authenticate   #auth-user, #auth-challenge, #auth-pin, #auth-submit -> #auth-response; #auth-error
//   register       #reg-method-session | #reg-method-sms; SMS: #reg-username #reg-password #reg-phone
//                  #reg-send, then #reg-code; session: #reg-session-id; both: #reg-pin
//                  #reg-pin-confirm (first user only) #reg-complete -> #reg-result; #reg-error;
//                  #reg-title reads "Add user" once the app has a user (the same PIN, same instance)
//   recover        #rec-username #rec-password #rec-same-phone #rec-start, then #rec-code (SMS) or
//                  #rec-challenge + #rec-response (device), #rec-pin, #rec-complete -> #rec-result
//   DSC+ card      #card-seed #card-pin #card-challenge #card-suite #card-submit -> #card-response
//   users          #users > li[data-device-id] (.forget), #app-instance, #app-platform, #reset-app
// Every panel's errors are in words, in its own role="alert" element.
//
// What is kept and how: see store.js (IndexedDB, non-extractable CryptoKeys, a PIN verifier).

import { ApiError, baseUrl, call, describe } from "./api.js";
import { newSigningKey, pinMatches, pinVerifier, randomId, signDecision } from "./keys.js";
import { OcraError, hexToBytes, importOcraKey, ocra, parseSuite } from "./ocra.js";
import * as store from "./store.js";

const PUSH_TTL_MS = 120 * 1000; // rules.md: a push is answered within 120 seconds
const POLL_MS = 1500;
const TABS = ["notifications", "authenticate", "register", "recover", "card", "users"];
const SESSION_ID = /^[A-Za-z0-9]{10,64}$/;

const state = {
  meta: null,
  instances: [],
  users: [],
  answered: new Set(),
  pushes: new Map(), // transaction_id -> the latest push for it
  polling: null,
  pollBusy: false,
  outboxMissing: false,
  activation: null, // {activation_id, username} between the two SMS steps
  recovery: null, // {recovery_id, username, method}
};

const $ = (id) => document.getElementById(id);

function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "class") node.className = value;
    else if (name === "text") node.textContent = value;
    else if (name.startsWith("data-")) node.setAttribute(name, value);
    else if (name in node && typeof value !== "string") node[name] = value;
    else node.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children) node.append(child);
  return node;
}

function say(id, text) {
  $(id).textContent = text || "";
}

function busy(button, on) {
  button.disabled = on;
  button.setAttribute("aria-busy", on ? "true" : "false");
}

// A form handler: clears the panel's messages, disables the button while it runs, and puts any
// failure into the panel's alert in words.
function onSubmit(formId, errorId, handler) {
  $(formId).addEventListener("submit", async (event) => {
    event.preventDefault();
    const button = event.submitter || $(formId).querySelector("button[type=submit]");
    say(errorId, "");
    busy(button, true);
    try {
      await handler();
    } catch (error) {
      say(errorId, describe(error));
    } finally {
      busy(button, false);
    }
  });
}

class Refused extends Error {}

// ------------------------------------------------------------------ state

async function load() {
  state.meta = await store.get("meta", "app");
  if (!state.meta) {
    const ios = /iPhone|iPad|iPod/.test(navigator.userAgent);
    // A stand-in for the FCM/APNs token a phone gets: the service makes a push endpoint of it.
    state.meta = { name: "app", platform: ios ? "ios" : "android", push_token: randomId("web-push-", 16) };
    await store.put("meta", state.meta);
  }
  state.instances = (await store.all("instances")).sort((a, b) => a.created_at.localeCompare(b.created_at));
  state.users = (await store.all("users")).sort((a, b) => a.enrolled_at.localeCompare(b.enrolled_at));
  const dayAgo = Date.now() - 24 * 3600 * 1000;
  state.answered = new Set();
  for (const item of await store.all("answered")) {
    if (Date.parse(item.at) < dayAgo) await store.remove("answered", item.transaction_id);
    else state.answered.add(item.transaction_id);
  }
}

function currentInstance() {
  return state.instances[0] || null;
}

function instanceOf(user) {
  return state.instances.find((i) => i.app_instance_id === user.app_instance_id) || null;
}

// Activation by session ID does not say which username it was for: until a notification names
// it, the user is shown by device.
function userName(user) {
  return user.username || `username not known yet (${user.device_id})`;
}

// ------------------------------------------------------------------ rendering

function showTab(name, focus = false) {
  for (const tab of TABS) {
    const selected = tab === name;
    $(`tab-${tab}`).setAttribute("aria-selected", selected ? "true" : "false");
    $(`tab-${tab}`).tabIndex = selected ? 0 : -1;
    $(`panel-${tab}`).hidden = !selected;
  }
  if (focus) $(`tab-${name}`).focus();
}

function render() {
  const count = state.users.length;
  const instance = currentInstance();
  const names = state.users.map((u) => u.username).filter(Boolean);
  const unnamed = count - names.length;
  if (unnamed) names.push(`${unnamed} not named yet`);
  say("app-summary", count ? `${count} user${count === 1 ? "" : "s"}: ${names.join(", ")}` : "Not registered yet");
  say("app-instance", state.instances.map((i) => i.app_instance_id).join(", ") || "none yet");
  $("app-platform").value = state.meta.platform;

  // Register two-factor, or Add user to this instance (its PIN, no new one).
  const adding = Boolean(instance);
  say("reg-title", adding ? "Add user" : "Register two-factor");
  say("reg-hint", adding
    ? "Add another username to this app with the session ID (or QR code) from the Client Portal, or a code "
      + "by SMS. Enter this app's PIN."
    : "Activate IB Key with the session ID (or QR code) the Client Portal shows, or with a code sent to "
      + "your phone by SMS.");
  say("reg-pin-label", adding ? "This app's PIN" : "Create a PIN");
  $("reg-pin").autocomplete = adding ? "current-password" : "new-password";
  $("reg-pin-rules").hidden = adding;
  $("reg-pin-confirm-field").hidden = adding;

  // Users.
  const list = $("users");
  list.replaceChildren(...state.users.map((user) => el("li", { "data-device-id": user.device_id },
    el("strong", { class: "who", text: userName(user) }),
    el("span", { class: "small", text: `device ${user.device_id} · instance ${user.app_instance_id}` }),
    el("span", { class: "small", text: `registered ${new Date(user.enrolled_at).toLocaleString()} by ${user.via}` }),
    el("button", { type: "button", class: "forget link", "data-device-id": user.device_id,
      "aria-label": `Remove ${userName(user)} from this app`, text: "Remove from this app" }))));
  $("users-empty").hidden = count > 0;
  $("users-note").hidden = count === 0;

  // Authenticate: whom to answer for.
  const select = $("auth-user");
  const chosen = select.value;
  select.replaceChildren(...state.users.map((user) => el("option", { value: user.device_id, text: userName(user) })));
  if (state.users.some((u) => u.device_id === chosen)) select.value = chosen;
  select.disabled = count === 0;
  renderNotifications();
}

function pushesShown() {
  return [...state.pushes.values()]
    .filter((p) => !state.answered.has(p.transaction_id) && !p.expired)
    .sort((a, b) => b.sent_at.localeCompare(a.sent_at));
}

function renderNotifications() {
  const shown = pushesShown();
  const list = $("notifications");
  const keep = new Set(shown.map((p) => p.transaction_id));
  for (const item of [...list.children]) {
    if (!keep.has(item.dataset.transactionId)) item.remove();
  }
  for (const push of shown) {
    let item = [...list.children].find((li) => li.dataset.transactionId === push.transaction_id);
    if (!item) {
      item = notificationItem(push);
      list.prepend(item);
    }
    item.dataset.nonce = push.nonce;
    item.dataset.deviceId = push.device_id;
  }
  const badge = $("notification-count");
  badge.hidden = shown.length === 0;
  badge.textContent = String(shown.length);
  badge.setAttribute("aria-label", `${shown.length} waiting`);
  if (!state.users.length) say("notifications-status", "No user on this app yet: Register two-factor first.");
  else if (state.outboxMissing) {
    say("notifications-status", "Notifications cannot reach this app here. Use Authenticate: enter the "
      + "challenge code the login screen shows.");
  } else if (!shown.length) say("notifications-status", "No requests waiting. They appear here when you log in.");
  else say("notifications-status", `${shown.length} request${shown.length === 1 ? "" : "s"} waiting for you.`);
}

function notificationItem(push) {
  const pinId = `pin-${push.transaction_id}`;
  const user = state.users.find((u) => u.device_id === push.device_id);
  const approve = el("button", { type: "button", class: "approve primary", text: "Approve" });
  const deny = el("button", { type: "button", class: "deny", text: "Deny" });
  const item = el("li", { "data-transaction-id": push.transaction_id, "data-device-id": push.device_id },
    el("strong", { class: "message", text: push.message }),
    el("span", { class: "small", text: `${user ? userName(user) : push.username} · ${
      new Date(push.sent_at).toLocaleTimeString()}` }),
    el("label", { for: pinId, text: "PIN to approve" }),
    el("input", { id: pinId, class: "pin", type: "password", autocomplete: "off", maxlength: "6" }),
    el("div", { class: "row" }, approve, deny),
    el("p", { class: "error", role: "alert" }));
  approve.addEventListener("click", () => answerPush(item, "approve"));
  deny.addEventListener("click", () => answerPush(item, "deny"));
  return item;
}

// ------------------------------------------------------------------ push notifications

async function poll() {
  if (state.pollBusy || !state.users.length || state.outboxMissing) return;
  state.pollBusy = true;
  try {
    const response = await fetch(`${baseUrl()}/_local/outbox`, { cache: "no-store", credentials: "omit" });
    if (response.status >= 400 && response.status < 500) {
      // Not the local stack (404 there, 403 from API Gateway): pushes would come through APNs or
      // FCM, which a browser page cannot receive. Authenticate (challenge/response) still works.
      state.outboxMissing = true;
      stopPolling();
      renderNotifications();
      return;
    }
    if (!response.ok) return;
    const { messages = [] } = await response.json();
    await receive(messages);
    say("notifications-error", "");
  } catch {
    say("notifications-error", "Cannot reach the service to check for notifications. Retrying…");
  } finally {
    state.pollBusy = false;
  }
}

async function receive(messages) {
  const mine = new Map(state.users.map((u) => [u.device_id, u]));
  // The service's clock: at least the newest message's time (the local stack's clock may be ahead).
  let now = Date.now();
  for (const m of messages) now = Math.max(now, Date.parse(m.sent_at) || 0);
  let learned = false;
  for (const message of messages) {
    const data = message.data || {};
    const deviceId = data.device_id || message.to;
    const user = mine.get(deviceId);
    if (message.channel !== "push" || !user || !data.transaction_id || !data.nonce) continue;
    const push = {
      transaction_id: data.transaction_id, nonce: data.nonce, device_id: deviceId,
      username: data.username || userName(user), message: data.message || message.body || "Approve this request?",
      sent_at: message.sent_at, expired: Date.parse(message.sent_at) + PUSH_TTL_MS < now,
    };
    const seen = state.pushes.get(push.transaction_id);
    if (!seen || seen.sent_at <= push.sent_at) state.pushes.set(push.transaction_id, push); // the newest nonce
    if (!user.username && data.username) {
      // Activation by session ID does not say whose it was: the first push does.
      user.username = data.username;
      await store.put("users", user);
      learned = true;
    }
  }
  if (learned) render();
  else renderNotifications();
}

async function answerPush(item, decision) {
  const error = item.querySelector(".error");
  const buttons = item.querySelectorAll("button");
  error.textContent = "";
  say("notifications-error", "");
  const push = state.pushes.get(item.dataset.transactionId);
  const user = push && state.users.find((u) => u.device_id === push.device_id);
  if (!push || !user) return;
  buttons.forEach((b) => busy(b, true));
  try {
    if (decision === "approve") {
      const pin = item.querySelector(".pin").value;
      if (!pin) throw new Refused("Enter your PIN to approve.");
      if (!(await pinMatches(instanceOf(user)?.pin_verifier, pin))) throw new Refused("That is not this app's PIN.");
    }
    const signature = await signDecision(user.signing_key, push.transaction_id, push.nonce, decision);
    try {
      await call("POST", "/v1/authenticator/push-responses", {
        device_id: user.device_id, transaction_id: push.transaction_id, nonce: push.nonce, decision, signature,
      });
    } catch (failure) {
      if (failure instanceof ApiError && failure.code === "expired") {
        await remember(push.transaction_id, "expired");
        say("notifications-answered", "");
        say("notifications-error", describe(failure));
        renderNotifications();
        return;
      }
      throw failure;
    }
    await remember(push.transaction_id, decision);
    say("notifications-answered", decision === "approve"
      ? `Approved for ${push.username}. Continue on the screen you are logging in on.`
      : `Denied for ${push.username}. If it was not you, change your password.`);
    renderNotifications();
  } catch (failure) {
    error.textContent = describe(failure);
  } finally {
    buttons.forEach((b) => busy(b, false));
  }
}

async function remember(transactionId, decision) {
  state.answered.add(transactionId);
  await store.put("answered", { transaction_id: transactionId, decision, at: new Date().toISOString() });
}

function startPolling() {
  if (state.polling || !state.users.length || state.outboxMissing) return;
  poll();
  state.polling = setInterval(poll, POLL_MS);
}

function stopPolling() {
  clearInterval(state.polling);
  state.polling = null;
}

// ------------------------------------------------------------------ enrolment (activation, add user, recovery)

function checkNewPin(pin, again) {
  if (pin.length < 4 || pin.length > 6) throw new Refused("The PIN has 4 to 6 characters.");
  if (again !== undefined && pin !== again) throw new Refused("The two PINs are not the same.");
}

// What the app sends to enrol: its PIN, a fresh P-256 public key, platform, instance and push token.
async function enrolmentBody(pin, instanceId) {
  const key = await newSigningKey();
  const body = { pin, public_key: key.publicKeySpki, platform: state.meta.platform, push_token: state.meta.push_token };
  if (instanceId) body.app_instance_id = instanceId;
  return { key, body };
}

// Keeps what the service answered: the OCRA secret becomes a non-extractable HMAC key at once.
async function keep(answer, key, pin, username, via) {
  const ocraKey = await importOcraKey(answer.ocra_suite, answer.ocra_secret_hex);
  let instance = state.instances.find((i) => i.app_instance_id === answer.app_instance_id);
  const newInstance = !instance;
  if (newInstance) {
    instance = { app_instance_id: answer.app_instance_id, pin_verifier: await pinVerifier(pin),
      created_at: new Date().toISOString() };
  }
  const user = {
    device_id: answer.device_id, username: username || null, app_instance_id: answer.app_instance_id,
    ocra_suite: answer.ocra_suite, ocra_key: ocraKey, signing_key: key.privateKey, public_key: key.publicKeySpki,
    enrolled_at: new Date().toISOString(), via,
  };
  await store.saveEnrolment(user, newInstance ? instance : null);
  await load();
  render();
  startPolling();
  return user;
}

function sessionIdOf(text) {
  const trimmed = text.trim();
  const inUri = /[?&]session_id=([^&#\s]+)/.exec(trimmed);
  const id = (inUri ? decodeURIComponent(inUri[1]) : trimmed).replace(/[\s-]/g, "");
  if (!SESSION_ID.test(id)) {
    throw new Refused("That is not a session ID: type the letters and digits shown under the QR code, or "
      + "paste the QR code's text.");
  }
  return id;
}

function registerMethod() {
  return $("reg-method-sms").checked ? "sms" : "session";
}

function showRegisterMethod() {
  const sms = registerMethod() === "sms";
  state.activation = null;
  $("reg-sms-form").hidden = !sms;
  $("reg-form").hidden = sms;
  $("reg-session-field").hidden = sms;
  $("reg-code-field").hidden = true;
  $("reg-session-id").required = !sms;
  say("reg-error", "");
}

async function sendActivationCode() {
  const username = $("reg-username").value.trim();
  const password = $("reg-password").value;
  const phone = $("reg-phone").value.replace(/[\s()-]/g, "");
  if (!username || !password) throw new Refused("Enter your username and password.");
  if (!/^\+[1-9]\d{6,14}$/.test(phone)) throw new Refused("Enter the mobile number with its country code, e.g. +12125550123.");
  say("reg-result", "");
  const started = await call("POST", "/v1/activation/sms", { username, password, phone });
  state.activation = { activation_id: started.activation_id, username };
  $("reg-password").value = "";
  $("reg-form").hidden = false;
  $("reg-code-field").hidden = false;
  say("reg-sent-to", `We sent an activation code to ${started.sent_to}.`);
  $("reg-code").focus();
}

async function completeRegistration() {
  const method = registerMethod();
  const instance = currentInstance();
  const pin = $("reg-pin").value;
  say("reg-result", "");
  if (instance) {
    if (!pin) throw new Refused("Enter this app's PIN.");
    if (!(await pinMatches(instance.pin_verifier, pin))) throw new Refused("That is not this app's PIN.");
  } else {
    checkNewPin(pin, $("reg-pin-confirm").value);
  }
  let path;
  let extra;
  let username = null;
  if (method === "sms") {
    if (!state.activation) throw new Refused("Ask for the activation code first.");
    const code = $("reg-code").value.replace(/\s/g, "");
    if (!/^\d{4,16}$/.test(code)) throw new Refused("Enter the activation code from the SMS.");
    path = `/v1/activation/${encodeURIComponent(state.activation.activation_id)}/complete`;
    extra = { activation_code: code };
    username = state.activation.username;
  } else {
    path = "/v1/activation/qr/complete";
    extra = { session_id: sessionIdOf($("reg-session-id").value) };
  }
  const { key, body } = await enrolmentBody(pin, instance?.app_instance_id);
  const answer = await call("POST", path, { ...extra, ...body });
  const user = await keep(answer, key, pin, username, method === "sms" ? "SMS code" : "session ID");
  state.activation = null;
  $("reg-form").reset();
  $("reg-sms-form").reset();
  showRegisterMethod();
  say("reg-result", user.username ? `IB Key is active for ${user.username} (device ${user.device_id}).`
    : `IB Key is active on this phone (device ${user.device_id}). The username shows with its first `
      + "notification.");
}

async function startRecovery() {
  const username = $("rec-username").value.trim();
  const password = $("rec-password").value;
  if (!username || !password) throw new Refused("Enter your username and password.");
  say("rec-result", "");
  const body = { username, password, same_phone: $("rec-same-phone").checked };
  const instance = currentInstance();
  if (instance) body.app_instance_id = instance.app_instance_id;
  const started = await call("POST", "/v1/recovery", body);
  state.recovery = { recovery_id: started.recovery_id, username, method: started.method };
  $("rec-password").value = "";
  $("rec-form").hidden = false;
  $("rec-code-field").hidden = started.method !== "sms";
  $("rec-device-field").hidden = started.method !== "device";
  if (started.method === "sms") {
    say("rec-sent-to", `We sent an activation code to ${started.sent_to || "your phone"}.`);
    $("rec-code").focus();
  } else {
    const challenge = started.challenge || {};
    say("rec-device", started.device_id || "");
    say("rec-challenge", challenge.challenge_code
      || (challenge.indices ? `the values at index numbers ${challenge.indices.join(" and ")}` : ""));
    $("rec-response").focus();
  }
}

async function completeRecovery() {
  if (!state.recovery) throw new Refused("Initialize the recovery first.");
  const pin = $("rec-pin").value;
  checkNewPin(pin);
  say("rec-result", "");
  const extra = {};
  if (state.recovery.method === "sms") {
    const code = $("rec-code").value.replace(/\s/g, "");
    if (!/^\d{4,16}$/.test(code)) throw new Refused("Enter the activation code from the SMS.");
    extra.activation_code = code;
  } else {
    const response = $("rec-response").value.replace(/\s/g, "");
    if (!response) throw new Refused("Enter the response your device shows.");
    extra.response = response;
  }
  const instance = currentInstance();
  const { key, body } = await enrolmentBody(pin, instance?.app_instance_id);
  const answer = await call("POST", `/v1/recovery/${encodeURIComponent(state.recovery.recovery_id)}/complete`,
    { ...extra, ...body });
  const user = await keep(answer, key, pin, state.recovery.username, "recovery");
  state.recovery = null;
  $("rec-form").reset();
  $("rec-start-form").reset();
  $("rec-form").hidden = true;
  say("rec-result", `IB Key is set up again for ${userName(user)} (device ${user.device_id}).`);
}

// ------------------------------------------------------------------ responses (IB Key and DSC+)

async function authenticate() {
  say("auth-response", "");
  $("auth-result").hidden = true;
  const user = state.users.find((u) => u.device_id === $("auth-user").value);
  if (!user) throw new Refused("Register two-factor first: there is no user on this app.");
  const suite = parseSuite(user.ocra_suite);
  const challenge = $("auth-challenge").value.replace(/\s/g, "");
  if (!/^\d+$/.test(challenge) || challenge.length !== suite.questionLength) {
    throw new Refused(`Enter the ${suite.questionLength}-digit challenge code from the login screen.`);
  }
  const pin = $("auth-pin").value;
  if (!pin) throw new Refused("Enter your PIN.");
  if (!(await pinMatches(instanceOf(user)?.pin_verifier, pin))) throw new Refused("That is not this app's PIN.");
  $("auth-pin").value = "";
  say("auth-response", await ocra(user.ocra_suite, user.ocra_key, challenge));
  $("auth-result").hidden = false;
}

async function cardResponse() {
  say("card-response", "");
  $("card-result").hidden = true;
  let suite;
  try {
    suite = parseSuite($("card-suite").value.trim());
  } catch {
    throw new Refused("That is not an OCRA suite (e.g. OCRA-1:HOTP-SHA256-8:QN06-PSHA1).");
  }
  let seed;
  try {
    seed = hexToBytes($("card-seed").value);
  } catch {
    throw new Refused("The seed is hexadecimal: digits 0-9 and letters a-f, two per byte.");
  }
  if (seed.length < 16) throw new Refused("The seed has at least 16 bytes (32 hex digits).");
  const pin = $("card-pin").value;
  if (suite.pinHash && !/^\d{4}$/.test(pin)) throw new Refused("The card's PIN has 4 digits.");
  const challenge = $("card-challenge").value.replace(/\s/g, "");
  if (suite.questionFormat === "N" && (!/^\d+$/.test(challenge) || challenge.length !== suite.questionLength)) {
    throw new Refused(`Enter the ${suite.questionLength}-digit challenge code.`);
  }
  try {
    say("card-response", await ocra(suite.text, seed, challenge, suite.pinHash ? { pin } : {}));
  } catch (error) {
    if (error instanceof OcraError) throw new Refused(`The card cannot answer that: ${error.message}.`);
    throw error;
  }
  $("card-result").hidden = false;
}

// ------------------------------------------------------------------ users and app data

// A destructive button asks twice: the first press arms it for a few seconds.
function armed(button, text) {
  if (button.dataset.armed === "true") return true;
  const label = button.textContent;
  button.dataset.armed = "true";
  button.textContent = text;
  setTimeout(() => {
    button.dataset.armed = "false";
    button.textContent = label;
  }, 4000);
  return false;
}

async function forget(button) {
  if (!armed(button, "Press again to remove")) return;
  const deviceId = button.dataset.deviceId;
  await store.remove("users", deviceId);
  await load();
  render();
}

async function resetApp(button) {
  if (!armed(button, "Press again: this removes every user and key")) return;
  stopPolling();
  await store.clearAll();
  state.pushes.clear();
  await load();
  render();
  showTab("register");
}

// ------------------------------------------------------------------ start

function wire() {
  for (const name of TABS) $(`tab-${name}`).addEventListener("click", () => showTab(name));
  $("app").querySelector("[role=tablist]").addEventListener("keydown", (event) => {
    const at = TABS.findIndex((t) => $(`tab-${t}`).getAttribute("aria-selected") === "true");
    const step = { ArrowRight: 1, ArrowLeft: -1 }[event.key];
    if (step) showTab(TABS[(at + step + TABS.length) % TABS.length], true);
  });
  $("reg-method-session").addEventListener("change", showRegisterMethod);
  $("reg-method-sms").addEventListener("change", showRegisterMethod);
  onSubmit("reg-sms-form", "reg-error", sendActivationCode);
  onSubmit("reg-form", "reg-error", completeRegistration);
  onSubmit("rec-start-form", "rec-error", startRecovery);
  onSubmit("rec-form", "rec-error", completeRecovery);
  onSubmit("auth-form", "auth-error", authenticate);
  onSubmit("card-form", "card-error", cardResponse);
  $("users").addEventListener("click", (event) => {
    const button = event.target.closest("button.forget");
    if (button) forget(button).catch((error) => say("users-error", describe(error)));
  });
  $("reset-app").addEventListener("click", (event) => {
    resetApp(event.currentTarget).catch((error) => say("users-error", describe(error)));
  });
  $("app-platform").addEventListener("change", async () => {
    state.meta.platform = $("app-platform").value;
    await store.put("meta", state.meta);
  });
}

async function start() {
  wire();
  try {
    if (!window.isSecureContext || !crypto.subtle) {
      throw new Error("This page needs a secure context (https or localhost) for its keys.");
    }
    await load();
  } catch (error) {
    $("app").dataset.ready = "false";
    say("app-summary", "");
    say("reg-error", `The app cannot start: ${describe(error)}`);
    showTab("register");
    return;
  }
  render();
  showRegisterMethod();
  const link = new URLSearchParams(window.location.search).get("session_id");
  if (link) {
    $("reg-session-id").value = link;
    showTab("register");
  } else {
    showTab(state.users.length ? "notifications" : "register");
  }
  startPolling();
  $("app").setAttribute("aria-busy", "false");
  $("app").dataset.ready = "true";
}

start();
