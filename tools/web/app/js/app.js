// The IB Key app: a browser stand-in for IBKR Mobile's authenticator.
//
// Page ids (tests and docs rely on them):
//   tabs           #tab-notifications #tab-authenticate #tab-register #tab-recover #tab-card #tab-users
//                  (each shows #panel-<name>); #app[data-ready] once the stored state is loaded
//   notifications  #notifications > li[data-push-id][data-device-id][data-purpose], newest first, each
//                  with .purpose, .statement (what is confirmed, before the PIN), .number (the 3 digits
//                  shown by the screen that asked, when the push has one), .pin, .approve, .deny and its
//                  own .error; #notifications-status (what waits), #notifications-answered (the last
//                  decision sent), #notifications-error (a request that expired or ended), #notification-count
//   authenticate   #auth-user, #auth-challenge, #auth-pin, #auth-submit -> #auth-response; #auth-error
//   register       #reg-method-session | #reg-method-sms; SMS: #reg-username #reg-password #reg-phone
//                  #reg-send (or #reg-activation-link #reg-use-link: an activation the Client Portal
//                  started for a new number), then #reg-code; session: #reg-session-id; both: #reg-pin
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

const PUSH_TTL_MS = 120 * 1000; // rules.md: a push is answered within 120 seconds (when it names no expiry)
const POLL_MS = 1500;
// How each purpose of a push reads (api.md: login, step_up, withdrawal, ...).
const PURPOSES = {
  login: { title: "Log in", approve: "Approve login" },
  step_up: { title: "Security change", approve: "Approve change" },
  withdrawal: { title: "Withdrawal", approve: "Approve withdrawal" },
};
const purposeOf = (purpose) => PURPOSES[purpose]
  || { title: purpose ? `${purpose[0].toUpperCase()}${purpose.slice(1).replace(/_/g, " ")}` : "Request", approve: "Approve" };
const TABS = ["notifications", "authenticate", "register", "recover", "card", "users"];
const SESSION_ID = /^[A-Za-z0-9]{10,64}$/;

const state = {
  meta: null,
  instances: [],
  users: [],
  answered: new Set(),
  pushes: new Map(), // push_id -> the push (its first message: later ones about it are not pushes)
  polling: null,
  pollBusy: false,
  outboxMissing: false,
  lastGone: "", // why the last request left the list on its own (expired, number mismatch)
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
    if (Date.parse(item.at) < dayAgo) await store.remove("answered", item.push_id);
    else state.answered.add(item.push_id);
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

// Pushes that may still be answered: not dealt with here, not past their expiry.
function candidates() {
  return [...state.pushes.values()]
    .filter((p) => !state.answered.has(p.push_id) && !p.expired)
    .sort((a, b) => b.sent_at.localeCompare(a.sent_at) || b.order - a.order);
}

// What is offered: those the service said were still pending (a push answered elsewhere,
// withdrawn or expired before the app saw it is never shown).
function pushesShown() {
  return candidates().filter((p) => p.verified);
}

function renderNotifications() {
  const shown = pushesShown();
  const list = $("notifications");
  const keep = new Set(shown.map((p) => p.push_id));
  for (const item of [...list.children]) {
    if (!keep.has(item.dataset.pushId)) item.remove();
  }
  // Newest first: each item in its place, those already on screen kept (with what was typed).
  shown.forEach((push, index) => {
    let item = [...list.children].find((li) => li.dataset.pushId === push.push_id);
    if (!item) item = notificationItem(push);
    if (list.children[index] !== item) list.insertBefore(item, list.children[index] || null);
  });
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

// One request: what it is for, the statement (what the person confirms), then the number the
// other screen shows (when it has one), the PIN, and the decision.
function notificationItem(push) {
  const pinId = `pin-${push.push_id}`;
  const numberId = `number-${push.push_id}`;
  const user = state.users.find((u) => u.device_id === push.device_id);
  const words = purposeOf(push.purpose);
  const approve = el("button", { type: "button", class: "approve primary", text: words.approve });
  const deny = el("button", { type: "button", class: "deny", text: "Deny" });
  const number = push.has_number
    ? [el("label", { for: numberId, text: "Number shown on the screen you are using" }),
      el("input", { id: numberId, class: "number", inputmode: "numeric", autocomplete: "off", maxlength: "3",
        pattern: "[0-9]{3}", placeholder: "3 digits", "aria-describedby": `${numberId}-hint` }),
      el("p", { id: `${numberId}-hint`, class: "hint small",
        text: "Only the screen that asked shows it. No number there? Deny: the request is not yours." })]
    : [];
  const item = el("li", { "data-push-id": push.push_id, "data-device-id": push.device_id,
    "data-purpose": push.purpose || "" },
  el("span", { class: "purpose", text: words.title }),
  el("strong", { class: "statement", text: push.statement }),
  el("span", { class: "small", text: `${user ? userName(user) : push.username} · ${
    new Date(push.sent_at).toLocaleTimeString()}` }),
  ...number,
  el("label", { for: pinId, text: push.purpose === "withdrawal" ? "PIN to approve this withdrawal" : "PIN to approve" }),
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
    await checkPending();
    say("notifications-error", state.lastGone || "");
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
  messages.forEach((message, order) => {
    const data = message.data || {};
    const deviceId = data.device_id || message.to;
    const user = mine.get(deviceId);
    if (message.channel !== "push" || !user || !data.push_id || !data.nonce) return;
    const seen = state.pushes.get(data.push_id);
    if (seen) {
      // A later message about a push already received (its withdrawal): not a push to answer,
      // but a reason to ask the service about it at once.
      if (seen.order !== order) seen.recheck = true;
      seen.expired = seen.expiresAt < now;
      return;
    }
    const expiresAt = Date.parse(data.expires_at) || (Date.parse(message.sent_at) + PUSH_TTL_MS);
    state.pushes.set(data.push_id, {
      push_id: data.push_id, nonce: data.nonce, device_id: deviceId, order,
      username: data.username || userName(user), purpose: data.purpose || "",
      statement: typeof data.statement === "string" ? data.statement : "",
      message: data.message || message.body || "", has_number: data.has_number === true,
      sent_at: message.sent_at, expiresAt, expired: expiresAt < now, checked: 0, recheck: true, verified: false,
    });
    if (!user.username && data.username) {
      // Activation by session ID does not say whose it was: the first push does.
      user.username = data.username;
      learned = true;
    }
  });
  if (learned) {
    for (const user of state.users) await store.put("users", user);
    render();
  }
  // A request that was on screen and ran out of time while open: say so as it goes.
  for (const item of $("notifications").children) {
    const push = state.pushes.get(item.dataset.pushId);
    if (push && push.expired) await gone(push, "expired");
  }
  renderNotifications();
}

// Asks the service about each request still offered: what is no longer pending (answered
// elsewhere, withdrawn because its flow moved on, expired) is dropped.
async function checkPending() {
  for (const push of candidates()) {
    if (!push.recheck && Date.now() - push.checked < POLL_MS) continue;
    push.recheck = false;
    push.checked = Date.now();
    let status;
    try {
      ({ status } = await call("GET", `/v1/authenticator/pushes/${encodeURIComponent(push.push_id)}`));
    } catch (failure) {
      if (failure instanceof ApiError && failure.status === 404) await gone(push, "unknown");
      continue; // the service is out of reach: the next poll asks again
    }
    if (status === "pending") push.verified = true;
    else await gone(push, status);
  }
  renderNotifications();
}

// A request that is over: dropped, and "This request expired" when it expired while on screen.
async function gone(push, status) {
  const onScreen = [...$("notifications").children].some((li) => li.dataset.pushId === push.push_id);
  await remember(push.push_id, status);
  if (status === "expired" && onScreen) {
    state.lastGone = `This request expired: ${push.statement || push.message}`;
    say("notifications-error", state.lastGone);
  }
}

function refusal(push, failure) {
  if (failure.code === "number_mismatch") {
    return "The number you typed is not the one on the screen that asked, so this request is over. "
      + "If it was you, ask for a new notification there.";
  }
  return describe(failure);
}

async function answerPush(item, decision) {
  const error = item.querySelector(".error");
  const buttons = item.querySelectorAll("button");
  error.textContent = "";
  state.lastGone = "";
  say("notifications-error", "");
  const push = state.pushes.get(item.dataset.pushId);
  const user = push && state.users.find((u) => u.device_id === push.device_id);
  if (!push || !user) return;
  buttons.forEach((b) => busy(b, true));
  try {
    let number = "";
    if (decision === "approve") {
      if (push.has_number) {
        number = item.querySelector(".number").value.replace(/\s/g, "");
        if (!/^\d{3}$/.test(number)) {
          throw new Refused("Type the 3-digit number shown on the screen you are using.");
        }
      }
      const pin = item.querySelector(".pin").value;
      if (!pin) throw new Refused("Enter your PIN to approve.");
      if (!(await pinMatches(instanceOf(user)?.pin_verifier, pin))) throw new Refused("That is not this app's PIN.");
    }
    const signature = await signDecision(user.signing_key, {
      pushId: push.push_id, nonce: push.nonce, decision, number, statement: push.statement,
    });
    const body = { device_id: user.device_id, push_id: push.push_id, nonce: push.nonce, decision, signature };
    if (decision === "approve" && push.has_number) body.number = number;
    try {
      await call("POST", "/v1/authenticator/push-responses", body);
    } catch (failure) {
      if (failure instanceof ApiError && (failure.code === "expired" || failure.code === "number_mismatch")) {
        // Either way this request is over: it leaves the list, with the reason.
        await remember(push.push_id, failure.code);
        say("notifications-answered", "");
        state.lastGone = refusal(push, failure);
        say("notifications-error", state.lastGone);
        renderNotifications();
        return;
      }
      throw failure;
    }
    await remember(push.push_id, decision);
    const who = push.username;
    say("notifications-answered", decision === "deny"
      ? `Denied for ${who}. If it was not you, change your password.`
      : push.purpose === "withdrawal" ? `Withdrawal approved for ${who}: ${push.statement}.`
        : `Approved for ${who}. Continue on the screen you are using.`);
    renderNotifications();
  } catch (failure) {
    error.textContent = describe(failure);
  } finally {
    buttons.forEach((b) => busy(b, false));
  }
}

async function remember(pushId, decision) {
  state.answered.add(pushId);
  await store.put("answered", { push_id: pushId, decision, at: new Date().toISOString() });
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

// An activation the Client Portal started for a number not on file (it needs the session there):
// its link carries the activation id (and the username), the code comes by SMS to this phone.
function activationFromLink(text) {
  const query = text.trim();
  const id = /[?&]activation_id=([^&#\s]+)/.exec(query);
  if (!id) throw new Refused("That is not an activation link: paste the whole link the Client Portal shows.");
  const username = /[?&]username=([^&#\s]+)/.exec(query);
  return { activation_id: decodeURIComponent(id[1]), username: username ? decodeURIComponent(username[1]) : null };
}

function useActivationLink(text) {
  state.activation = activationFromLink(text);
  $("reg-form").hidden = false;
  $("reg-code-field").hidden = false;
  say("reg-sent-to", `Activation started in the Client Portal${
    state.activation.username ? ` for ${state.activation.username}` : ""}: type the code texted to this phone.`);
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
  $("reg-use-link").addEventListener("click", () => {
    say("reg-error", "");
    try {
      useActivationLink($("reg-activation-link").value);
    } catch (error) {
      say("reg-error", describe(error));
    }
  });
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
  const params = new URLSearchParams(window.location.search);
  const link = params.get("session_id");
  if (link) {
    $("reg-session-id").value = link;
    showTab("register");
  } else if (params.get("activation_id")) {
    $("reg-method-sms").checked = true;
    showRegisterMethod();
    useActivationLink(window.location.search);
    showTab("register");
  } else {
    showTab(state.users.length ? "notifications" : "register");
  }
  startPolling();
  $("app").setAttribute("aria-busy", "false");
  $("app").dataset.ready = "true";
}

start();
