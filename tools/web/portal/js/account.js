// The signed-in portal: devices, the IB Key banner with its QR code, DSC+ request and PIN
// change, Secure Login settings, withdrawals, device sharing, the Online Security Code Card.
// Every action that changes how the account is protected goes through stepup.withStepUp: when
// the session is not recent and strong enough, the person confirms with a device right there,
// and the action goes on.
import {call, forgetSession, seg, session} from "./api.js";
import {renderChallenge} from "./challenge.js";
import {beginStepUp, canStepUp, showLogin} from "./login.js";
import {groupSessionId, qrImageUrl} from "./qr.js";
import {cancelStepUp, needsStepUp, withStepUp} from "./stepup.js";
import {
  $, attempt, clearError, confirmAction, countdown, dateTime, deviceLabel, el, focusFirst, money, restrictionText,
  show, showError, showMessage, statusName, stopCountdown, typeName,
} from "./ui.js";

const SHARE_KEY = "sls.share";
const QR_WATCH_MS = 2000;
const WITHDRAW_POLL_MS = 2000;
const PHYSICAL = new Set(["dsc_plus", "dsc", "gold", "platinum", "scc"]);

let me = null; // GET /v1/me
let settings = null; // GET /v1/settings/secure-login
let qr = null; // {sessionId, expiresAt, url, ibKeys}
let qrWatch = null;
let qrWatchBusy = false;
let qrRequesting = false;
let qrNeedsStepUp = false; // the automatic QR request answered step_up_required: a button asks
let withdrawal = null; // {id, amount, eligible, expiresAt, chosen}
let generation = 0; // bumped on logout: late answers of the old session are ignored
const inFlight = new Set(); // background reads (QR watch, withdrawal polls), awaited before logging out

/** A background read: awaited by logout, so that none reaches the API after the session ends. */
function background(promise) {
  inFlight.add(promise);
  promise.finally(() => inFlight.delete(promise)).catch(() => {});
  return promise;
}

const scope = () => session()?.scope || null;

export function initAccount() {
  $("#logout").addEventListener("click", logout);
  $("#step-up").addEventListener("click", stepUp);
  $("#qr-show").addEventListener("click", () => requestQr($("#qr-show")));
  $("#qr-refresh").addEventListener("click", () => requestQr($("#qr-refresh")));
  $("#new-number-form").addEventListener("submit", (event) => {
    event.preventDefault();
    activateOnNewNumber();
  });
  $("#withdraw-form").addEventListener("submit", (event) => {
    event.preventDefault();
    startWithdrawal();
  });
  $("#accept-risk").addEventListener("change", renderSettingsControls);
  $("#opt-out").addEventListener("click", () => changeMode("opted_out"));
  $("#opt-in").addEventListener("click", () => changeMode("always"));
  $("#dsc-form").addEventListener("submit", (event) => {
    event.preventDefault();
    requestDscPlus();
  });
  $("#share-form").addEventListener("submit", (event) => {
    event.preventDefault();
    startShare();
  });
  $("#share-cancel").addEventListener("click", cancelShare);
  $("#online-card-request").addEventListener("click", requestOnlineCard);
  $("#online-card-print").addEventListener("click", () => window.print());
}

// ------------------------------------------------------------------ the page

export async function showSignedIn() {
  const current = session();
  if (!current) {
    showLogin();
    return;
  }
  const mine = generation;
  show($("#login-view"), false);
  show($("#signed-in"), true);
  $("#scope-badge").textContent = {trading: "Trading only", portal_only: "Portal only"}[current.scope] || "";
  show($("#scope-badge"), current.scope !== "full");
  countdown($("#session-expires"), current.expires_at, {onDone: () => sessionEnded()});
  clearError();
  try {
    [me, settings] = await Promise.all([
      call("GET", "/v1/me"),
      call("GET", "/v1/settings/secure-login"),
    ]);
  } catch (error) {
    if (error.code !== "unauthorized") showError(error, $(".content").firstElementChild);
    return;
  }
  if (mine !== generation) return;
  render();
  if (scope() === "trading") focusFirst($("#step-up"));
  else $("#portal-title").focus({preventScroll: true});
}

function render() {
  $("#whoami").textContent = me.username;
  $("#account-id").textContent = me.account_id;
  renderTrading();
  renderDevices();
  renderLimits();
  renderBanner();
  renderSettings();
  renderShare();
  const temporary = session()?.via === "temporary_code";
  show($("#sec-online-card"), temporary);
  show($("#nav-online-card"), temporary);
}

async function refresh() {
  const mine = generation;
  const fresh = await call("GET", "/v1/me");
  if (mine !== generation) return;
  me = fresh;
  renderDevices();
  renderLimits();
}

// A trading-only session (opted out, password only): the restrictions, and a device to step up.
function renderTrading() {
  const trading = scope() === "trading";
  show($("#trading-notice"), trading);
  $("#restrictions").replaceChildren(...(me.restrictions.length
    ? me.restrictions.map((code) => el("li", {dataset: {restriction: code}}, restrictionText(code)))
    : [el("li", {}, "None")]));
  $("#step-up").textContent = canStepUp() ? "Confirm with a device" : "Log in again with a device";
  show($("#step-up"), true);
  for (const id of ["#sec-devices", "#sec-withdraw", "#sec-share"]) {
    const section = $(id);
    section.inert = trading;
    section.classList.toggle("needs-full", trading);
  }
}

function stepUp() {
  if (!canStepUp()) {
    // The login that could be raised is gone (the page was reloaded): log in again.
    logout();
    return;
  }
  show($("#step-up"), false);
  beginStepUp($("#step-up-slot"));
}

async function logout() {
  const current = session();
  generation += 1;
  stopQrWatch();
  await Promise.allSettled([...inFlight]);
  // Forgotten first: a reload meanwhile cannot pick the session up again.
  forgetSession();
  let ended = true;
  if (current) {
    $("#logout").disabled = true;
    try {
      await call("POST", "/v1/logout", undefined, current.token);
    } catch (error) {
      ended = error.code === "unauthorized"; // already over
    } finally {
      $("#logout").disabled = false;
    }
  }
  teardown();
  showLogin(ended ? "You have logged out."
    : `You have logged out of this page. The service could not be reached to end the session at once; it ends by itself at ${dateTime(current.expires_at)}.`);
}

export function sessionEnded() {
  teardown();
  forgetSession();
  showLogin("Your session has ended. Please log in again.");
}

/** Stops every timer and forgets what the page showed of the account. */
export function teardown() {
  generation += 1;
  cancelStepUp();
  stopQrWatch();
  qrNeedsStepUp = false;
  stopCountdown($("#session-expires"));
  if (qr && qr.url) URL.revokeObjectURL(qr.url);
  qr = null;
  withdrawal = null;
  me = null;
  settings = null;
  sessionStorage.removeItem(SHARE_KEY);
  $("#qr-image").removeAttribute("src");
  $("#session-id").textContent = "";
  $("#qr-status").textContent = "";
  show($("#qr-status"), false);
  $("#new-number-result").replaceChildren();
  show($("#new-number-result"), false);
  show($("#new-number-form"), true);
  $("#new-number").open = false;
  $("#whoami").textContent = "";
  $("#account-id").textContent = "";
  for (const id of ["#withdraw-choose", "#withdraw-challenge", "#withdraw-result", "#device-action", "#share-challenge",
    "#share-status", "#settings-result", "#dsc-result", "#online-card-box"]) show($(id), false);
  show($("#dsc-form"), true);
  $("#withdraw-challenge").replaceChildren();
  $("#device-action").replaceChildren();
  $("#share-challenge").replaceChildren();
  $("#online-card").replaceChildren();
  for (const form of document.querySelectorAll("#signed-in form")) form.reset();
  show($("#share-form"), true);
  show($("#online-card-request"), true);
  $("#dsc-request").open = false;
}

// ------------------------------------------------------------------ devices

function renderDevices() {
  const rows = me.devices.map((device) => {
    const details = [];
    if (device.serial) details.push(`Serial ${device.serial}`);
    if (device.platform) details.push(device.platform === "ios" ? "iPhone" : "Android");
    if (device.valid_until) details.push(`Valid until ${dateTime(device.valid_until)}`);
    const actions = [];
    if (device.type === "dsc_plus" && device.status === "active") {
      actions.push(el("button", {type: "button", class: "secondary small-button", dataset: {action: "pin"},
        onclick: () => startPinChange(device)}, "Change PIN"));
    }
    if (device.status === "pending") {
      actions.push(el("button", {type: "button", class: "primary small-button", dataset: {action: "activate"},
        onclick: () => startActivation(device)}, "Activate"));
    }
    if (PHYSICAL.has(device.type) && ["active", "locked", "lost", "inactive"].includes(device.status)) {
      actions.push(el("button", {type: "button", class: "link", dataset: {action: "return"},
        "aria-label": `Return ${deviceLabel(device)}`, onclick: (event) => returnDevice(device, event.currentTarget)},
      "Return"));
    }
    if (["active", "pending", "locked"].includes(device.status)) {
      actions.push(el("button", {type: "button", class: "link danger-link", dataset: {action: "remove"},
        "aria-label": `Remove ${deviceLabel(device)}`, onclick: (event) => removeDevice(device, event.currentTarget)},
      "Remove"));
    }
    return el("tr", {dataset: {deviceId: device.device_id, deviceType: device.type}},
      el("td", {}, el("strong", {}, deviceLabel(device)),
        details.length ? el("div", {class: "small muted"}, details.join(" · ")) : null),
      el("td", {}, typeName(device.type)),
      el("td", {}, el("span", {class: `status status-${device.status}`, dataset: {status: device.status}},
        statusName(device.status))),
      el("td", {class: "small"}, device.last_used_at ? dateTime(device.last_used_at) : "Never"),
      el("td", {class: "actions"}, ...actions));
  });
  if (!rows.length) rows.push(el("tr", {}, el("td", {colspan: "5", class: "muted"}, "You have no security device.")));
  $("#devices").replaceChildren(...rows);
}

function devicesNote(text) {
  const panel = $("#device-action");
  panel.replaceChildren(el("p", {class: "result-text", role: "status"}, text));
  show(panel, true);
}

async function removeDevice(device, button) {
  const sure = await confirmAction(
    `Remove ${deviceLabel(device)}? You will no longer be able to log in or confirm withdrawals with it.`, "Remove");
  if (!sure) {
    button.focus();
    return;
  }
  const done = await attempt(button, $("#device-action"), async () => {
    await withStepUp(() => call("DELETE", `/v1/devices/${seg(device.device_id)}`), $("#device-action"));
    return true;
  });
  if (!done) return;
  devicesNote(`${deviceLabel(device)} was removed: it can no longer be used to log in or to confirm withdrawals.`);
  await attempt(null, $("#device-action"), refresh);
  renderBanner();
}

// A physical device sent back (a replaced card): it stops working, and its reserve is released.
async function returnDevice(device, button) {
  const sure = await confirmAction(
    `Return ${deviceLabel(device)}? It stops working at once: send it back to us. A reserve held for its replacement is released.`,
    "Return");
  if (!sure) {
    button.focus();
    return;
  }
  const returned = await attempt(button, $("#device-action"),
    () => withStepUp(() => call("POST", `/v1/devices/${seg(device.device_id)}/return`), $("#device-action")));
  if (!returned) return;
  devicesNote(`${deviceLabel(device)} is marked as returned: it can no longer be used.`);
  await attempt(null, $("#device-action"), refresh);
  renderBanner();
}

// KB1018: the card answers a challenge with the current PIN; then the new PIN.
async function startPinChange(device) {
  const panel = $("#device-action");
  const issued = await attempt(null, panel,
    () => call("POST", `/v1/devices/${seg(device.device_id)}/pin-challenge`));
  if (!issued) return;
  const left = el("span", {class: "countdown"});
  const response = el("input", {id: "pin-response", inputmode: "numeric", autocomplete: "off", required: true});
  const pin = el("input", {id: "pin-new", type: "password", inputmode: "numeric", maxlength: "4",
    autocomplete: "new-password", required: true});
  const again = el("input", {id: "pin-new-again", type: "password", inputmode: "numeric", maxlength: "4",
    autocomplete: "new-password", required: true});
  const submit = el("button", {id: "pin-submit", type: "submit", class: "primary"}, "Change PIN");
  const form = el("form", {id: "pin-form", class: "stack narrow", novalidate: true},
    el("div", {class: "field"}, el("label", {for: "pin-response"}, "Response (with your current PIN)"), response),
    el("div", {class: "field"}, el("label", {for: "pin-new"}, "New 4-digit PIN"), pin),
    el("div", {class: "field"}, el("label", {for: "pin-new-again"}, "New PIN again"), again),
    el("div", {class: "button-row"}, submit,
      el("button", {type: "button", class: "secondary", onclick: closeDeviceAction}, "Cancel")));
  panel.replaceChildren(
    el("h3", {}, `Change the PIN of ${deviceLabel(device)}`),
    el("p", {class: "steps-text"}, "Turn on your Digital Security Card+ and enter your current PIN. Enter the challenge code "
      + "on the card and type the response it shows. Then choose a new PIN."),
    el("div", {class: "code-box"}, el("span", {class: "code-label"}, "Challenge code"),
      el("span", {id: "pin-challenge-code", class: "big-code"}, issued.challenge_code)),
    el("p", {class: "small muted"}, "The challenge expires in ", left, "."),
    form);
  countdown(left, issued.expires_at);
  show(panel, true);
  focusFirst(response);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!/^\d{4}$/.test(pin.value)) {
      showMessage("The new PIN must be exactly 4 digits.", form);
      focusFirst(pin);
      return;
    }
    if (pin.value !== again.value) {
      showMessage("The two new PINs differ. Type them again.", form);
      again.value = "";
      focusFirst(again);
      return;
    }
    const changed = await attempt(submit, form, () => call("PUT", `/v1/devices/${seg(device.device_id)}/pin`,
      {response: response.value.trim(), new_pin: pin.value}));
    if (!changed) return;
    devicesNote(`The PIN of ${deviceLabel(device)} was changed. Use the new PIN from now on.`);
    await attempt(null, panel, refresh);
  });
}

// A card shipped by the back office: one challenge answered with it activates it.
async function startActivation(device) {
  const panel = $("#device-action");
  const issued = await attempt(null, panel,
    () => call("POST", `/v1/devices/${seg(device.device_id)}/activation-challenge`));
  if (!issued) return;
  show(panel, true);
  renderChallenge(panel, {device_id: device.device_id, type: device.type, method: "challenge_response", challenge: issued}, {
    prefix: "activate-",
    device,
    intro: "Activate the device you received by answering one challenge with it.",
    submitLabel: "Activate",
    onResend: () => startActivation(device),
    onAnswer: async (response, submit, form) => {
      const active = await attempt(submit, form,
        () => call("POST", `/v1/devices/${seg(device.device_id)}/activate`, {response}));
      if (!active) return;
      devicesNote(`${deviceLabel(device)} is now active.`);
      await attempt(null, panel, refresh);
    },
  });
}

function closeDeviceAction() {
  clearError();
  $("#device-action").replaceChildren();
  show($("#device-action"), false);
}

async function requestDscPlus() {
  const form = $("#dsc-form");
  const pin = $("#dsc-pin").value;
  if (!/^\d{4}$/.test(pin)) {
    showMessage("The PIN must be exactly 4 digits.", form);
    focusFirst($("#dsc-pin"));
    return;
  }
  if (pin !== $("#dsc-pin-again").value) {
    showMessage("The two PINs differ. Type them again.", form);
    $("#dsc-pin-again").value = "";
    focusFirst($("#dsc-pin-again"));
    return;
  }
  const reason = $("#dsc-reason").value;
  const requested = await attempt($("#dsc-submit"), form,
    () => withStepUp(() => call("POST", "/v1/devices/dsc-plus", {pin, reason}), form));
  $("#dsc-pin").value = "";
  $("#dsc-pin-again").value = "";
  if (!requested) return;
  const result = $("#dsc-result");
  result.textContent = `Your request ${requested.request_id} was received. `
    + (requested.fee_usd ? `Fee: ${money(requested.fee_usd)}, held as a reserve of ${money(requested.reserve_usd)} `
      + "that lowers what you can withdraw until the old card is returned. " : "There is no fee. ")
    + "We will ship the card; activate it here when it arrives.";
  show(result, true);
  show(form, false);
}

// ------------------------------------------------------------------ IB Key banner

function renderBanner() {
  if (!me) return; // the session ended meanwhile (a removed device that had opened it, a logout)
  const banner = $("#ibkey-banner");
  if (scope() === "trading") {
    show(banner, false);
    stopQrWatch();
    return;
  }
  const ibKey = me.devices.find((device) => device.type === "ib_key" && device.status === "active");
  show(banner, true);
  show($("#new-number"), scope() === "full");
  banner.classList.toggle("compact", Boolean(ibKey) && !qr);
  show($("#qr-note"), !qr && qrNeedsStepUp);
  if (ibKey) {
    $("#ibkey-title").textContent = "IBKR Mobile Authentication (IB Key) is active";
    $("#ibkey-lead").textContent = `You approve logins on ${deviceLabel(ibKey)}.`;
    const note = $("#ibkey-active-note");
    note.textContent = "Moving to a new phone, or adding this username to the app? Show an activation QR code.";
    show(note, !qr);
    show($("#ibkey-steps"), Boolean(qr));
    show($("#qr-show"), !qr);
    show($("#qr-figure"), Boolean(qr));
    return;
  }
  $("#ibkey-title").textContent = "Activate IBKR Mobile Authentication (IB Key)";
  $("#ibkey-lead").textContent = "Log in faster and more securely: approve each login on your phone.";
  show($("#ibkey-active-note"), false);
  show($("#ibkey-steps"), true);
  // The code is shown at once, unless this session must first be stepped up: then a button
  // asks for it (and the step-up), rather than a step-up nobody asked for.
  const asking = !qr && qrNeedsStepUp;
  show($("#qr-show"), asking);
  show($("#qr-figure"), !asking);
  if (!qr && !asking) requestQr(null);
}

/**
 * POST /v1/activation/qr. `button` null: shown by itself with the banner (a step_up_required
 * answer then offers the button instead); a button: asked for, stepped up in place if needed.
 */
async function requestQr(button) {
  if (qrRequesting) return;
  const mine = generation;
  const figure = $("#qr-figure");
  const create = () => call("POST", "/v1/activation/qr");
  qrRequesting = true;
  let issued;
  try {
    issued = await attempt(button, button || figure, button ? () => withStepUp(create, $("#qr-show")) : async () => {
      try {
        return await create();
      } catch (error) {
        if (!needsStepUp(error)) throw error;
        qrNeedsStepUp = true;
        if (mine === generation && me) renderBanner();
        return null;
      }
    });
  } finally {
    qrRequesting = false;
  }
  if (!issued || mine !== generation) return;
  qrNeedsStepUp = false;
  if (qr && qr.url) URL.revokeObjectURL(qr.url);
  const url = qrImageUrl(issued.qr_svg);
  qr = {sessionId: issued.session_id, expiresAt: issued.expires_at, url,
    ibKeys: new Set(me.devices.filter((d) => d.type === "ib_key" && d.status === "active").map((d) => d.device_id))};
  const image = $("#qr-image");
  if (url) {
    image.src = url;
    show(image, true);
  } else {
    image.removeAttribute("src");
    show(image, false);
  }
  // Shown in groups of four (rules.md); the app ignores the spaces.
  $("#session-id").textContent = groupSessionId(issued.session_id);
  $("#session-id").dataset.sessionId = issued.session_id;
  $("#qr-expiry-line").replaceChildren("Expires in ", el("span", {id: "qr-expires", class: "countdown"}), ".");
  const shown = qr;
  countdown($("#qr-expires"), issued.expires_at, {onDone: () => qrExpired(shown)});
  $("#qr-figure").classList.remove("expired");
  $("#qr-status").textContent = "";
  show($("#qr-status"), false);
  show($("#qr-refresh"), true);
  show($("#qr-note"), false);
  $("#ibkey-banner").classList.remove("compact");
  show($("#ibkey-active-note"), false);
  show($("#ibkey-steps"), true);
  show($("#qr-show"), false);
  show(figure, true);
  watchForActivation();
}

// While the code is on screen: its session's status, until the app has used it or it expired.
function watchForActivation() {
  stopQrWatch();
  const mine = generation;
  const watched = qr;
  qrWatch = setInterval(async () => {
    if (mine !== generation || qr !== watched || !watched) {
      stopQrWatch();
      return;
    }
    if (qrWatchBusy) return;
    qrWatchBusy = true;
    let state;
    try {
      state = await background(call("GET", `/v1/activation/qr/${seg(watched.sessionId)}`));
    } catch (error) {
      if (error && (error.status === 404 || error.status === 410) && mine === generation && qr === watched) {
        qrExpired(watched);
      }
      return;
    } finally {
      qrWatchBusy = false;
    }
    if (mine !== generation || qr !== watched) return;
    if (state.status === "used") await qrUsed(watched, state.device_id, mine);
    else if (state.status === "expired") qrExpired(watched);
  }, QR_WATCH_MS);
}

async function qrUsed(watched, deviceId, mine) {
  stopQrWatch();
  stopCountdown($("#qr-expires"));
  if (watched.url) URL.revokeObjectURL(watched.url);
  qr = null;
  $("#qr-image").removeAttribute("src");
  try {
    me = await background(call("GET", "/v1/me"));
  } catch {
    // the devices list catches up with the next refresh
  }
  if (mine !== generation || !me) return;
  renderDevices();
  renderLimits();
  renderBanner();
  const added = me.devices.find((d) => d.device_id === deviceId)
    || me.devices.find((d) => d.type === "ib_key" && d.status === "active" && !watched.ibKeys.has(d.device_id));
  $("#ibkey-title").textContent = "IB Key is activated";
  $("#ibkey-lead").textContent = added
    ? `${deviceLabel(added)} is ready: from now on you can approve logins on your phone.`
    : "IBKR Mobile is ready: from now on you can approve logins on your phone.";
  $("#qr-status").textContent = "IB Key activated: IBKR Mobile used the QR code. Your devices below are up to date.";
  show($("#qr-status"), true);
}

function qrExpired(watched) {
  if (qr !== watched || !watched || watched.expired) return;
  watched.expired = true;
  stopQrWatch();
  stopCountdown($("#qr-expires"));
  $("#qr-expiry-line").replaceChildren("This code has expired.");
  $("#qr-figure").classList.add("expired");
  $("#qr-status").textContent = "The activation QR code expired before it was used. Show a new one to try again.";
  show($("#qr-status"), true);
  show($("#qr-refresh"), true);
}

function stopQrWatch() {
  if (qrWatch) clearInterval(qrWatch);
  qrWatch = null;
}

// A phone number not on file gets an activation SMS only from a full, stepped-up session: the
// code goes to the new number, and the app finishes with the activation link shown here.
async function activateOnNewNumber() {
  const form = $("#new-number-form");
  const phone = $("#new-number-phone").value.replace(/[\s().-]/g, "");
  const password = $("#new-number-password").value;
  if (!/^\+[1-9]\d{6,14}$/.test(phone)) {
    showMessage("Type the mobile number with its country code, for example +12125550123.", form);
    focusFirst($("#new-number-phone"));
    return;
  }
  if (!password) {
    showMessage("Type your password.", form);
    focusFirst($("#new-number-password"));
    return;
  }
  const username = me.username;
  const started = await attempt($("#new-number-submit"), form, () => withStepUp(
    () => call("POST", "/v1/activation/sms", {username, password, phone}), form));
  $("#new-number-password").value = "";
  if (!started) return;
  const link = `ibkr-ibkey://activate?activation_id=${encodeURIComponent(started.activation_id)}`
    + `&username=${encodeURIComponent(username)}`;
  const left = el("span", {class: "countdown"});
  const result = $("#new-number-result");
  result.replaceChildren(
    el("p", {}, "We sent an 8-digit activation code to ", el("strong", {id: "new-number-sent-to"}, started.sent_to), "."),
    el("p", {}, "On that phone, open IBKR Mobile, choose Register, then SMS code, and paste this activation link; "
      + "then type the code from the message and choose a PIN."),
    el("p", {}, el("code", {id: "new-number-link", class: "activation-link"}, link)),
    el("p", {class: "small"}, "The activation expires in ", left, "."));
  if (started.expires_at) countdown(left, started.expires_at, {doneText: "0:00"});
  show(form, false);
  show(result, true);
}

// ------------------------------------------------------------------ withdrawals

function renderLimits() {
  const rows = Object.entries(me.withdrawal_limits || {}).filter(([type]) => type !== "none").map(([type, limits]) =>
    el("tr", {dataset: {deviceType: type}},
      el("th", {scope: "row"}, typeName(type)),
      el("td", {}, money(limits.per_day)), el("td", {}, money(limits.remaining_today)),
      el("td", {}, money(limits.per_five_business_days)), el("td", {}, money(limits.remaining_five_business_days))));
  if (!rows.length) rows.push(el("tr", {}, el("td", {colspan: "5", class: "muted"}, "No device can confirm a withdrawal.")));
  $("#limits").replaceChildren(...rows);
}

function parseAmount(text) {
  const cleaned = text.replace(/[\s,$]/g, "").replace(/^USD/i, "");
  if (!/^\d+(\.\d{1,2})?$/.test(cleaned)) return null;
  const amount = Number(cleaned);
  return amount > 0 && Number.isFinite(amount) ? amount : null;
}

// Where the money goes, as the person typed it: 1-64 printable characters, or null (the service
// then names "your bank account on file"); undefined when it is not acceptable.
function parseDestination(text) {
  const trimmed = text.trim();
  if (!trimmed) return null;
  if ([...trimmed].length > 64 || /[\p{Cc}\p{Cf}\p{Cs}\p{Co}\p{Cn}\p{Zl}\p{Zp}]/u.test(trimmed)) return undefined;
  return trimmed;
}

function resetWithdrawal() {
  withdrawal = null;
  for (const id of ["#withdraw-choose", "#withdraw-challenge", "#withdraw-result"]) show($(id), false);
  $("#withdraw-challenge").replaceChildren();
  stopCountdown($("#withdraw-expires"));
}

async function startWithdrawal() {
  const form = $("#withdraw-form");
  resetWithdrawal();
  const amount = parseAmount($("#withdraw-amount").value);
  if (amount === null) {
    showMessage("Type the amount in US dollars, for example 2500 or 2500.50.", form);
    focusFirst($("#withdraw-amount"));
    return;
  }
  const destination = parseDestination($("#withdraw-destination").value);
  if (destination === undefined) {
    showMessage("Name where the money goes in at most 64 characters, letters, digits, spaces and signs only.", form);
    focusFirst($("#withdraw-destination"));
    return;
  }
  const body = destination ? {amount_usd: amount, destination} : {amount_usd: amount};
  const started = await attempt($("#withdraw-start"), form, () => call("POST", "/v1/withdrawals", body));
  if (!started) return;
  await attempt(null, form, refresh);
  const statement = started.statement || `Withdraw ${money(amount)}${destination ? ` to ${destination}` : ""}`;
  withdrawal = {id: started.withdrawal_id, amount, statement, eligible: started.eligible_devices,
    expiresAt: started.expires_at};
  const current = withdrawal;
  const byId = new Map(me.devices.map((device) => [device.device_id, device]));
  const buttons = started.eligible_devices.map((deviceId) => {
    const device = byId.get(deviceId) || {device_id: deviceId, type: "", label: "Security device"};
    const limits = (me.withdrawal_limits || {})[device.type];
    return el("button", {type: "button", class: "device-option", dataset: {deviceId, deviceType: device.type},
      onclick: () => chooseWithdrawalDevice(current, device)},
    el("span", {class: "device-type"}, typeName(device.type)),
    el("span", {class: "device-name"}, deviceLabel(device)),
    limits ? el("span", {class: "device-limit"}, `Up to ${money(limits.remaining_today)} today`) : null);
  });
  $("#withdraw-choose-text").textContent = buttons.length
    ? `Confirm the withdrawal of ${money(amount)} with one of these devices:`
    : `None of your devices can confirm ${money(amount)}. A Digital Security Card+ has no limit.`;
  $("#eligible-devices").replaceChildren(...buttons);
  $("#withdraw-request-statement").textContent = statement;
  show($("#withdraw-choose"), true);
  countdown($("#withdraw-expires"), started.expires_at, {
    onDone: () => {
      if (withdrawal !== current) return;
      resetWithdrawal();
      showError({code: "withdrawal_expired", detail: {}}, form);
    },
  });
  if (buttons.length) focusFirst(buttons[0]);
}

async function chooseWithdrawalDevice(current, device, method = undefined) {
  if (withdrawal !== current) return;
  current.attempt = (current.attempt || 0) + 1;
  const mine = current.attempt;
  for (const button of $("#eligible-devices").querySelectorAll("button")) {
    button.setAttribute("aria-pressed", button.dataset.deviceId === device.device_id ? "true" : "false");
  }
  const panel = $("#withdraw-challenge");
  const body = method ? {device_id: device.device_id, method} : {device_id: device.device_id};
  const issued = await attempt(null, panel,
    () => call("POST", `/v1/withdrawals/${seg(current.id)}/challenge`, body));
  if (!issued || withdrawal !== current || mine !== current.attempt) return;
  show(panel, true);
  renderChallenge(panel, issued, {
    prefix: "withdraw-",
    device,
    submitLabel: "Confirm withdrawal",
    onAnswer: async (response, submit, form) => {
      if (!response) {
        showMessage("Type the response first.", form);
        return;
      }
      const authorized = await attempt(submit, form,
        () => call("POST", `/v1/withdrawals/${seg(current.id)}/verify`, {response}));
      if (!authorized || withdrawal !== current) return;
      withdrawalDone(current, device, authorized.remaining);
    },
    onSwitchToCode: () => chooseWithdrawalDevice(current, device, "challenge_response"),
    onResend: (again) => chooseWithdrawalDevice(current, device, again || undefined),
  });
  if (issued.method === "push") pollWithdrawal(current, device, mine);
}

async function pollWithdrawal(current, device, mine) {
  const gen = generation;
  const still = () => gen === generation && withdrawal === current && mine === current.attempt;
  while (still()) {
    await new Promise((resolve) => setTimeout(resolve, WITHDRAW_POLL_MS));
    if (!still()) return;
    let state;
    try {
      state = await background(call("GET", `/v1/withdrawals/${seg(current.id)}`));
    } catch (error) {
      if (error.code === "unauthorized") return;
      if (error.code === "withdrawal_not_found") {
        resetWithdrawal();
        showError(error, $("#withdraw-form"));
        return;
      }
      continue;
    }
    if (!still()) return;
    if (state.status === "authorized") {
      withdrawalDone(current, device, null);
      return;
    }
    if (state.status === "denied" || state.status === "expired") {
      resetWithdrawal();
      showMessage(state.status === "denied" ? "The withdrawal was denied on your phone."
        : "The withdrawal request expired. Start again.", $("#withdraw-form"));
      return;
    }
  }
}

async function withdrawalDone(current, device, remaining) {
  resetWithdrawal();
  clearError();
  await attempt(null, $("#withdraw-form"), refresh);
  const limits = remaining || (() => {
    const left = (me.withdrawal_limits || {})[device.type] || {};
    return {today: left.remaining_today ?? null, five_business_days: left.remaining_five_business_days ?? null};
  })();
  const result = $("#withdraw-result");
  result.replaceChildren(
    el("p", {class: "result-title"}, el("strong", {}, `Withdrawal of ${money(current.amount)} authorized`),
      ` with ${deviceLabel(device)}.`),
    el("p", {id: "withdraw-result-statement"}, `You confirmed: ${current.statement}.`),
    el("p", {}, "Remaining limits: ", el("span", {id: "withdraw-remaining-today"}, money(limits.today)), " today, ",
      el("span", {id: "withdraw-remaining-five"}, money(limits.five_business_days)), " in five business days."));
  show(result, true);
  $("#withdraw-amount").value = "";
  $("#withdraw-destination").value = "";
  result.scrollIntoView({block: "nearest"});
}

// ------------------------------------------------------------------ Secure Login settings

const MODES = {
  always: "Always use my Secure Login Device",
  opted_out: "Secure Login not required for trading (opted out)",
};

function renderSettings() {
  $("#sls-mode").textContent = MODES[settings.mode] || settings.mode;
  $("#sls-mode").dataset.mode = settings.mode;
  const notice = $("#primary-notice");
  if (!settings.can_change) {
    notice.replaceChildren("Only the primary user of this account, ",
      el("strong", {id: "primary-username"}, settings.primary_username || "the primary user"),
      ", can change the Secure Login settings. Please ask them to log in to the Client Portal.");
  }
  show(notice, !settings.can_change);
  show($("#settings-scope-note"), settings.can_change && scope() === "trading");
  show($("#opt-out-box"), settings.mode === "always");
  show($("#opt-in-box"), settings.mode === "opted_out");
  const restrictions = settings.restrictions || [];
  $("#settings-restrictions").textContent = restrictions.length ? restrictions.map(restrictionText).join("; ") : "none";
  $("#accept-risk").checked = false;
  renderSettingsControls();
}

function renderSettingsControls() {
  const allowed = Boolean(settings && settings.can_change && scope() !== "trading");
  $("#accept-risk").disabled = !allowed;
  $("#opt-out").disabled = !allowed || !$("#accept-risk").checked;
  $("#opt-in").disabled = !allowed;
}

async function changeMode(mode) {
  const box = mode === "opted_out" ? $("#opt-out-box") : $("#opt-in-box");
  const body = mode === "opted_out" ? {mode, accept_risk: $("#accept-risk").checked} : {mode};
  const button = mode === "opted_out" ? $("#opt-out") : $("#opt-in");
  const changed = await attempt(button, box, () => withStepUp(() => call("PUT", "/v1/settings/secure-login", body), button));
  if (!changed) {
    renderSettingsControls();
    return;
  }
  settings = {...settings, mode: changed.mode, restrictions: changed.restrictions};
  renderSettings();
  const result = $("#settings-result");
  result.textContent = changed.mode === "opted_out"
    ? "Your settings were updated: from your next login, your password alone logs you in to trade. "
      + "Account management still needs your device."
    : "Your settings were updated: you always log in with your Secure Login Device.";
  show(result, true);
  await attempt(null, result, refresh);
  focusFirst(changed.mode === "opted_out" ? $("#opt-in") : $("#accept-risk"));
}

// ------------------------------------------------------------------ sharing

function storedShare() {
  try {
    return JSON.parse(sessionStorage.getItem(SHARE_KEY) || "null");
  } catch {
    return null;
  }
}

function renderShare() {
  const share = storedShare();
  show($("#share-form"), !share);
  if (share) shareStatus(share);
}

async function startShare() {
  const form = $("#share-form");
  const owner = $("#share-owner").value.trim();
  const password = $("#share-password").value;
  if (!owner || !password) {
    showMessage("Type the device owner's username and password.", form);
    focusFirst(!owner ? $("#share-owner") : $("#share-password"));
    return;
  }
  const started = await attempt($("#share-start"), form, () => withStepUp(
    () => call("POST", "/v1/sharing", {owner_username: owner, owner_password: password}), form));
  $("#share-password").value = "";
  if (!started) return;
  const panel = $("#share-challenge");
  const device = started.device;
  show(form, false);
  show(panel, true);
  const issued = {device_id: device.device_id, type: device.type,
    method: started.challenge && started.challenge.push_sent ? "push" : "challenge_response", challenge: started.challenge};
  renderChallenge(panel, issued, {
    prefix: "share-",
    device,
    intro: `Prove you hold ${owner}'s device: operate it with the challenge below.`,
    submitLabel: "Share this device",
    onAnswer: async (response, submit, answerForm) => {
      const state = await attempt(submit, answerForm,
        () => call("POST", `/v1/sharing/${seg(started.share_id)}/complete`, {response}));
      if (!state) return;
      const share = {id: state.share_id, status: state.status, label: deviceLabel(device), owner};
      sessionStorage.setItem(SHARE_KEY, JSON.stringify(share));
      panel.replaceChildren();
      show(panel, false);
      shareStatus(share);
      await attempt(null, $("#share-status"), refresh);
    },
    onResend: () => {
      panel.replaceChildren();
      show(panel, false);
      show(form, true);
      focusFirst($("#share-password"));
    },
  });
}

function shareStatus(share) {
  const text = share.status === "approved"
    ? `Sharing approved: you now log in with ${share.label} (${share.owner}'s device). Your own physical devices are `
      + "inactive; cancel the sharing to use them again."
    : share.status === "pending_compliance"
      ? `Your request to share ${share.label} is pending: Compliance approves sharing between usernames of different `
        + "entities. You can keep using your own devices meanwhile."
      : `Sharing status: ${share.status}.`;
  $("#share-status-text").textContent = text;
  $("#share-status").dataset.status = share.status;
  show($("#share-status"), true);
}

async function cancelShare() {
  const share = storedShare();
  if (!share) return;
  const sure = await confirmAction(`Cancel sharing ${share.label}? Your own devices become active again.`, "Cancel sharing");
  if (!sure) return;
  const state = await attempt($("#share-cancel"), $("#share-status"),
    () => call("DELETE", `/v1/sharing/${seg(share.id)}`));
  if (!state) return;
  sessionStorage.removeItem(SHARE_KEY);
  show($("#share-status"), false);
  show($("#share-form"), true);
  showMessageNear($("#share-form"), "The sharing was cancelled.");
  await attempt(null, $("#share-form"), refresh);
}

function showMessageNear(where, text) {
  const note = el("p", {class: "result-text", role: "status"}, text);
  where.parentNode.insertBefore(note, where);
  setTimeout(() => note.remove(), 10000);
}

// ------------------------------------------------------------------ Online Security Code Card

async function requestOnlineCard() {
  const button = $("#online-card-request");
  const issued = await attempt(button, button, () => call("POST", "/v1/temporary/online-card"));
  if (!issued) return;
  const entries = Object.entries(issued.card).sort(([a], [b]) => a.localeCompare(b, "en", {numeric: true}));
  const perRow = 6;
  const rows = [el("tr", {}, ...Array.from({length: perRow}, () => [
    el("th", {scope: "col"}, "Index"), el("th", {scope: "col", class: "value-head"}, "Value")]).flat())];
  for (let start = 0; start < entries.length; start += perRow) {
    rows.push(el("tr", {}, ...entries.slice(start, start + perRow).flatMap(([index, value]) => [
      el("td", {class: "card-index"}, index), el("td", {class: "card-value", dataset: {index}}, value)])));
  }
  $("#online-card").replaceChildren(el("caption", {class: "visually-hidden"}, "Index numbers and their values"),
    el("tbody", {}, ...rows));
  $("#online-card-valid").textContent = dateTime(issued.valid_until);
  show($("#online-card-box"), true);
  show(button, false);
  await attempt(null, $("#online-card-box"), refresh);
}
