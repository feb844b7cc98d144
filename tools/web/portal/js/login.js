// Logging in: password, then the M2FS device chooser, then the chosen device's screen
// (push approval with its fallback to a code, challenge codes, index numbers, SMS and voice
// codes, temporary codes). The same steps raise a password-only trading session (an
// opted-out user) to a full one.
import {call, keepSession, seg, session} from "./api.js";
import {renderChallenge} from "./challenge.js";
import {
  $, attempt, clearError, countdown, el, focusFirst, show, showError, showMessage, stopCountdown, typeName,
} from "./ui.js";

const POLL_MS = 2000;

let onSignedIn = () => {};
// The login in progress: {loginId, devices, defaultId, expiresAt, stepUp, chosen}
let flow = null;
// An opted-out user's login, kept (in memory only) to step the trading session up.
let stepUpOffer = null;
// Bumped whenever the flow changes: a push poll of an older flow stops by itself.
let generation = 0;

export function initLogin(callbacks) {
  onSignedIn = callbacks.onSignedIn;
  $("#login-form").addEventListener("submit", (event) => {
    event.preventDefault();
    submitPassword();
  });
  $("#login-restart").addEventListener("click", () => {
    if (flow && flow.stepUp) {
      cancelStepUp();
    } else {
      showLogin();
    }
  });
}

/** The login form, optionally with a message (logged out, session ended). */
export function showLogin(message = "") {
  reset();
  stepUpOffer = null;
  show($("#signed-in"), false);
  show($("#login-view"), true);
  show($("#login-step"), true);
  $("#login-view").append($("#device-step"));
  show($("#device-step"), false);
  $("#password").value = "";
  $("#notice").textContent = message;
  focusFirst($("#username").value ? $("#password") : $("#username"));
}

function reset() {
  generation += 1;
  flow = null;
  clearError();
  stopCountdown($("#login-expires"));
  $("#challenge-panel").replaceChildren();
  show($("#challenge-panel"), false);
}

async function submitPassword() {
  const username = $("#username").value.trim();
  const password = $("#password").value;
  const form = $("#login-form");
  if (!username || !password) {
    showMessage("Type your username and your password.", form);
    focusFirst(!username ? $("#username") : $("#password"));
    return;
  }
  $("#notice").textContent = "";
  const started = await attempt($("#login-submit"), form, () => call("POST", "/v1/login", {
    username, password, client: {platform: "portal"},
  }, null));
  if (!started) {
    $("#password").value = "";
    focusFirst($("#password"));
    return;
  }
  $("#password").value = "";
  if (started.session_token) {
    // Opted out of Secure Login: a trading session at once; a device can raise it later.
    keepSession(started, "password");
    stepUpOffer = started.login_id && started.devices && started.devices.length
      ? {loginId: started.login_id, devices: started.devices, defaultId: started.default_device_id,
        expiresAt: started.expires_at}
      : null;
    onSignedIn();
    return;
  }
  showDeviceStep({loginId: started.login_id, devices: started.devices, defaultId: started.default_device_id,
    expiresAt: started.expires_at, stepUp: false});
}

// ------------------------------------------------------------------ step up

export function canStepUp() {
  return stepUpOffer !== null;
}

/** Shows the device chooser in `slot` (the trading notice) for the kept login. */
export function beginStepUp(slot) {
  if (!stepUpOffer) return false;
  slot.append($("#device-step"));
  showDeviceStep({...stepUpOffer, stepUp: true});
  return true;
}

function cancelStepUp() {
  reset();
  show($("#device-step"), false);
  show($("#step-up"), true);
  focusFirst($("#step-up"));
}

// ------------------------------------------------------------------ the chooser

function showDeviceStep(next) {
  reset();
  flow = next;
  show($("#login-step"), false);
  const step = $("#device-step");
  $("#device-step-title").textContent = next.stepUp ? "Confirm with a device" : "Select second factor device";
  $("#device-step-intro").textContent = next.stepUp
    ? "Choose a device to confirm it is you; the session then gets full access."
    : "Choose the device you want to log in with.";
  $("#login-restart").textContent = next.stepUp ? "Cancel" : "Start over";
  const chooser = $("#device-chooser");
  const usable = next.devices.filter((device) => device.status === "active");
  if (!usable.length) {
    chooser.replaceChildren(el("p", {}, "You have no active security device. Please contact Client Services."));
  } else {
    chooser.replaceChildren(...usable.map((device) => deviceButton(device, device.device_id === next.defaultId)));
  }
  show(step, true);
  // An opted-out user's login answer carries the session's expiry, not the login's: no
  // countdown then (login_expired says when it is over).
  show($("#login-expiry-line"), !next.stepUp);
  if (next.expiresAt && !next.stepUp) {
    countdown($("#login-expires"), next.expiresAt, {
      onDone: () => {
        if (flow === next) expired();
      },
    });
  }
  const preselected = chooser.querySelector("[aria-pressed=true]") || chooser.querySelector("button");
  if (preselected) focusFirst(preselected);
}

function deviceButton(device, preselected) {
  const button = el("button", {
    type: "button", class: "device-option", "aria-pressed": preselected ? "true" : "false",
    dataset: {deviceId: device.device_id, deviceType: device.type},
  },
  el("span", {class: "device-type"}, typeName(device.type)),
  el("span", {class: "device-name"}, device.label || ""),
  preselected ? el("span", {class: "device-default"}, "Default") : null);
  button.addEventListener("click", () => choose(device.device_id));
  return button;
}

function markChosen(deviceId) {
  for (const button of $("#device-chooser").querySelectorAll("button[data-device-id]")) {
    button.setAttribute("aria-pressed", button.dataset.deviceId === deviceId ? "true" : "false");
  }
}

async function choose(deviceId, method = undefined) {
  if (!flow) return;
  const current = flow;
  generation += 1;
  const mine = generation;
  markChosen(deviceId);
  const button = $(`#device-chooser button[data-device-id="${CSS.escape(deviceId)}"]`);
  const panel = $("#challenge-panel");
  const body = method ? {device_id: deviceId, method} : {device_id: deviceId};
  const issued = await attempt(button, $("#device-chooser").nextElementSibling,
    () => call("POST", `/v1/login/${seg(current.loginId)}/challenge`, body, null), loginGone(current));
  if (!issued || flow !== current || mine !== generation) return;
  current.chosen = issued;
  const device = current.devices.find((d) => d.device_id === issued.device_id) || {};
  show(panel, true);
  renderChallenge(panel, issued, {
    prefix: "",
    device,
    submitLabel: current.stepUp ? "Confirm" : "Log in",
    onAnswer: (response, submit, form) => answer(current, response, submit, form),
    onSwitchToCode: () => choose(deviceId, "challenge_response"),
    onResend: (again) => choose(deviceId, again || undefined),
  });
  if (issued.method === "push") poll(current, mine);
}

async function answer(current, response, submit, form) {
  if (!response) {
    showMessage("Type the response first.", form);
    focusFirst($("#response"));
    return;
  }
  const granted = await attempt(submit, form,
    () => call("POST", `/v1/login/${seg(current.loginId)}/verify`, {response}, null), loginGone(current));
  if (!granted) {
    const field = $("#response");
    if (field) {
      field.select();
      field.focus();
    }
    return;
  }
  finish(current, granted);
}

// Push: the app answers; the portal reads the login's status until it changes.
async function poll(current, mine) {
  while (flow === current && mine === generation) {
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    if (flow !== current || mine !== generation) return;
    let status;
    try {
      status = await call("GET", `/v1/login/${seg(current.loginId)}`, undefined, null);
    } catch (error) {
      if (flow !== current || mine !== generation) return;
      if (error.code === "login_expired") {
        expired();
        return;
      }
      continue; // a network hiccup or 503: keep waiting
    }
    if (flow !== current || mine !== generation) return;
    if (status.status === "approved" && status.session_token) {
      finish(current, status);
      return;
    }
    if (status.status === "denied") {
      generation += 1;
      $("#challenge-panel").replaceChildren();
      showMessage("The login was denied on your phone. If that was not you, contact Client Services.",
        $("#challenge-panel"));
      return;
    }
    if (status.status === "expired") {
      expired();
      return;
    }
  }
}

// An answer that says the login is over (expired, used up): back to its start.
function loginGone(current) {
  return (error) => {
    if (error.code === "login_expired" && flow === current) expired();
  };
}

function expired() {
  const wasStepUp = flow && flow.stepUp;
  if (wasStepUp) {
    stepUpOffer = null;
    cancelStepUp();
    $("#step-up").textContent = "Log in again with a device";
    showError({code: "login_expired", detail: {}}, $("#step-up-slot"));
    return;
  }
  showLogin();
  showError({code: "login_expired", detail: {}}, $("#login-form"));
}

async function finish(current, granted) {
  generation += 1;
  const via = current.chosen ? current.chosen.type : null;
  const previous = current.stepUp ? session() : null;
  keepSession(granted, via);
  reset();
  stepUpOffer = null;
  if (previous && previous.token) {
    // The trading session is replaced by the full one: end it.
    try {
      await call("POST", "/v1/logout", undefined, previous.token);
    } catch {
      // it ends by itself anyway
    }
  }
  show($("#device-step"), false);
  onSignedIn();
}
