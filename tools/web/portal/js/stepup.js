// Step-up in place (rules.md, "Step-up"). A session route that changes how the account is
// protected answers 403 step_up_required (with the devices that can satisfy it) when the
// session is not recent and strong enough. withStepUp() wraps such a call: on that answer it
// opens a panel right where the person is (after `anchor`), runs the step-up there
// (POST /v1/step-up, a device, its challenge on the same screen as a login's, then the answer,
// or for a push the step-up's status until it is stepped up), and sends the request once more.
// The same session token is strong afterwards: nothing else changes on the page.
//
// Ids: #stepup-panel, #stepup-devices (button[data-device-id][data-device-type]),
// #stepup-challenge (the challenge screen, prefix "stepup-": #stepup-statement,
// #stepup-match-number, #stepup-challenge-code, #stepup-indices, #stepup-response,
// #stepup-verify-submit), #stepup-cancel.
import {ApiError, call, seg} from "./api.js";
import {renderChallenge} from "./challenge.js";
import {$, attempt, clearError, el, focusFirst, show, showMessage, typeName} from "./ui.js";

const POLL_MS = 2000;

/** The person closed the step-up (quiet: the page was torn down, nothing to say). */
export class StepUpCancelled extends Error {
  constructor(quiet = false) {
    super("The confirmation was cancelled.");
    this.code = "step_up_cancelled";
    this.detail = {};
    this.quiet = quiet;
  }
}

let active = null; // the step-up on screen: {panel, reject, ...}

/**
 * request() (a function that makes the API call); when it answers 403 step_up_required, the
 * step-up after `anchor`, then request() once more. Resolves with request()'s answer; rejects
 * with its error (a second step_up_required included), or StepUpCancelled.
 */
export async function withStepUp(request, anchor) {
  try {
    return await request();
  } catch (error) {
    if (!needsStepUp(error)) throw error;
    await stepUp(anchor, error.detail.devices);
    return request();
  }
}

export function needsStepUp(error) {
  return error instanceof ApiError && error.status === 403 && error.code === "step_up_required";
}

/** Closes a step-up on screen (logout, session ended): its caller gets a quiet cancel. */
export function cancelStepUp(quiet = true) {
  if (!active) return;
  const current = active;
  active = null;
  current.panel.remove();
  current.reject(new StepUpCancelled(quiet));
}

/** The step-up itself: resolves once the session is stepped up; rejects when cancelled. */
export function stepUp(anchor, offered = []) {
  cancelStepUp();
  return new Promise((resolve, reject) => {
    const chooser = el("div", {id: "stepup-devices", class: "device-chooser", role: "group",
      "aria-labelledby": "stepup-title"});
    const challenge = el("div", {id: "stepup-challenge", class: "challenge-panel", hidden: true});
    const panel = el("section", {id: "stepup-panel", class: "stepup-panel", "aria-labelledby": "stepup-title"},
      el("h3", {id: "stepup-title"}, "Confirm it is you"),
      el("p", {id: "stepup-intro"}, "This changes how your account is protected, so it needs a recent confirmation "
        + "with one of your strongest devices. Choose one; what you asked for goes on as soon as you have confirmed."),
      chooser, challenge,
      el("p", {class: "small"}, el("button", {id: "stepup-cancel", type: "button", class: "link",
        onclick: () => {
          cancelStepUp(false);
          focusFirst(anchor);
        }}, "Cancel")));
    const state = {panel, reject, resolve, chooser, challenge, offered: offered || [], stepUpId: null,
      attempt: 0};
    active = state;
    if (anchor && anchor.parentNode) anchor.after(panel);
    else $(".content").prepend(panel);
    panel.scrollIntoView({block: "nearest"});
    begin(state);
  });
}

const live = (state) => active === state;

// POST /v1/step-up: the devices strong enough; the chooser.
async function begin(state) {
  state.attempt += 1;
  state.stepUpId = null;
  show(state.challenge, false);
  state.challenge.replaceChildren();
  state.chooser.replaceChildren(el("p", {class: "muted"}, "One moment…"));
  const started = await attempt(null, state.chooser, () => call("POST", "/v1/step-up"));
  if (!live(state)) return;
  if (!started) {
    state.chooser.replaceChildren(el("button", {id: "stepup-retry", type: "button", class: "secondary",
      onclick: () => begin(state)}, "Try again"));
    return;
  }
  state.stepUpId = started.step_up_id;
  const devices = (started.devices || state.offered).filter((d) => !d.status || d.status === "active");
  if (!devices.length) {
    state.chooser.replaceChildren(el("p", {}, "None of your devices can confirm this change. Please contact Client Services."));
    return;
  }
  state.chooser.replaceChildren(...devices.map((device) => el("button", {
    type: "button", class: "device-option", "aria-pressed": "false",
    dataset: {deviceId: device.device_id, deviceType: device.type}, onclick: () => choose(state, device),
  }, el("span", {class: "device-type"}, typeName(device.type)), el("span", {class: "device-name"}, device.label || ""))));
  focusFirst(state.chooser);
}

// A gone step-up (expired, unknown): a new one, with a word.
function gone(state) {
  return (error) => {
    if (!live(state) || !(error.status === 404 || error.status === 410)) return;
    begin(state).then(() => {
      if (live(state)) showMessage("The confirmation expired. Choose a device again.", state.chooser);
    });
  };
}

async function choose(state, device, method = undefined) {
  if (!live(state) || !state.stepUpId) return;
  state.attempt += 1;
  const mine = state.attempt;
  const stepUpId = state.stepUpId;
  for (const button of state.chooser.querySelectorAll("button[data-device-id]")) {
    button.setAttribute("aria-pressed", button.dataset.deviceId === device.device_id ? "true" : "false");
  }
  const body = method ? {device_id: device.device_id, method} : {device_id: device.device_id};
  const button = state.chooser.querySelector(`button[data-device-id="${CSS.escape(device.device_id)}"]`);
  const issued = await attempt(button, state.challenge,
    () => call("POST", `/v1/step-up/${seg(stepUpId)}/challenge`, body), gone(state));
  if (!issued || !live(state) || mine !== state.attempt) return;
  show(state.challenge, true);
  renderChallenge(state.challenge, issued, {
    prefix: "stepup-",
    device,
    submitLabel: "Confirm",
    onAnswer: (response, submit, form) => answer(state, stepUpId, response, submit, form),
    onSwitchToCode: () => choose(state, device, "challenge_response"),
    onResend: (again) => choose(state, device, again || undefined),
  });
  if (issued.method === "push") poll(state, stepUpId, mine);
}

async function answer(state, stepUpId, response, submit, form) {
  if (!response) {
    showMessage("Type the response first.", form);
    focusFirst(form);
    return;
  }
  const done = await attempt(submit, form,
    () => call("POST", `/v1/step-up/${seg(stepUpId)}/verify`, {response}), gone(state));
  if (!live(state)) return;
  if (!done) {
    const field = form.querySelector("input");
    if (field) {
      field.select();
      field.focus();
    }
    return;
  }
  finish(state);
}

// A push: the app answers; the step-up's status says when the session is stepped up.
async function poll(state, stepUpId, mine) {
  const still = () => live(state) && mine === state.attempt;
  while (still()) {
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    if (!still()) return;
    let status;
    try {
      status = await call("GET", `/v1/step-up/${seg(stepUpId)}`);
    } catch (error) {
      if (!still()) return;
      if (error.code === "unauthorized") return;
      if (error.status === 404 || error.status === 410) {
        gone(state)(error);
        return;
      }
      continue; // a network hiccup or a 503: keep waiting
    }
    if (!still()) return;
    if (status.stepped_up_until) {
      finish(state);
      return;
    }
    if (status.status === "denied") {
      state.attempt += 1;
      state.challenge.replaceChildren();
      show(state.challenge, false);
      showMessage("The confirmation was denied on your phone. If that was not you, contact Client Services.", state.chooser);
      return;
    }
    if (status.status === "expired") {
      gone(state)({status: 410});
      return;
    }
  }
}

function finish(state) {
  if (!live(state)) return;
  active = null;
  state.attempt += 1;
  clearError();
  state.panel.remove();
  state.resolve();
}
