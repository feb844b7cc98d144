// DOM helpers: elements built from text (never from HTML), live countdowns, the error box,
// the confirmation dialog, and the words for device types, statuses and money.
import {serverNow} from "./api.js";
import {sentenceFor} from "./errors.js";

export const $ = (selector, root = document) => root.querySelector(selector);

/** el("p", {id: "x", class: "y", dataset: {a: 1}, onclick: f}, "text", child, ...) */
export function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "class") node.className = value;
    else if (name === "dataset") Object.assign(node.dataset, value);
    else if (name.startsWith("on") && typeof value === "function") node.addEventListener(name.slice(2), value);
    else if (value === true) node.setAttribute(name, "");
    else node.setAttribute(name, String(value));
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export function show(node, visible = true) {
  node.hidden = !visible;
}

/** Focus the first field (or button) of a step, once it is on screen. */
export function focusFirst(root) {
  const target = root.matches?.("input, select, button, textarea")
    ? root : root.querySelector("input:not([type=hidden]):not([disabled]), select, textarea, button:not([disabled])");
  if (target) requestAnimationFrame(() => target.focus());
}

// ------------------------------------------------------------------ countdowns

const ticking = new Set();
let ticker = null;

function formatSeconds(total) {
  const seconds = Math.max(0, Math.ceil(total));
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = seconds % 60;
  const mm = h ? String(m).padStart(2, "0") : String(m);
  return (h ? `${h}:` : "") + `${mm}:${String(s).padStart(2, "0")}`;
}

function tick() {
  for (const entry of [...ticking]) {
    // A countdown's node may be put on the page just after it starts; one taken off (its
    // panel re-rendered), or never put on it, is dropped.
    if (entry.node.isConnected) {
      entry.seen = true;
    } else {
      if (entry.seen || Date.now() - entry.created > 5000) ticking.delete(entry);
      continue;
    }
    const left = (entry.until - serverNow()) / 1000;
    entry.node.textContent = left > 0 ? formatSeconds(left) : entry.doneText;
    if (left <= 0) {
      ticking.delete(entry);
      entry.onDone?.();
    }
  }
  if (!ticking.size && ticker) {
    clearInterval(ticker);
    ticker = null;
  }
}

/**
 * Keeps `node`'s text at the time left until `until` (an ISO time or ms since the epoch),
 * m:ss; calls onDone once at zero. A node gets one countdown at a time.
 */
export function countdown(node, until, {onDone, doneText = "0:00"} = {}) {
  stopCountdown(node);
  const at = typeof until === "number" ? until : Date.parse(until);
  const entry = {node, until: at, onDone, doneText, seen: false, created: Date.now()};
  ticking.add(entry);
  const left = (at - serverNow()) / 1000;
  node.textContent = left > 0 ? formatSeconds(left) : doneText;
  tick();
  if (!ticker && ticking.size) ticker = setInterval(tick, 1000);
}

export function stopCountdown(node) {
  for (const entry of ticking) if (entry.node === node) ticking.delete(entry);
}

export function secondsFromNow(seconds) {
  return serverNow() + seconds * 1000;
}

// ------------------------------------------------------------------ errors

// One box, kept even while a re-rendered panel has taken it out of the page.
const theErrorBox = document.getElementById("error");
const errorBox = () => theErrorBox;

function fillErrorBox(where, ...lines) {
  const box = errorBox();
  if (where && where.parentNode) where.parentNode.insertBefore(box, where);
  box.replaceChildren(...lines.filter(Boolean));
  box.classList.add("visible");
  box.scrollIntoView({block: "nearest"});
}

/** Shows what went wrong in words, just before `where` (a form or panel). */
export function showError(error, where = null) {
  const detail = (error && error.detail) || {};
  const extra = [];
  if (Number.isInteger(detail.attempts_left)) {
    extra.push(el("span", {id: "attempts-left"},
      detail.attempts_left === 1 ? "1 attempt left." : `${detail.attempts_left} attempts left.`));
  }
  if (detail.code === "limit_exceeded") {
    extra.push(el("span", {}, `Available today: ${money(detail.available_today)}; `
      + `in five business days: ${money(detail.available_five_days)}.`));
  }
  if (detail.code === "not_primary_user" && detail.primary_username) {
    extra.push(el("span", {}, `The primary user is ${detail.primary_username}.`));
  }
  const wait = error && error.retryAfterSeconds;
  if (Number.isInteger(wait) && wait > 0) {
    const left = el("span", {id: "retry-after", class: "countdown"});
    extra.push(el("span", {}, "Try again in ", left, "."));
    countdown(left, secondsFromNow(wait), {doneText: "a moment"});
  }
  fillErrorBox(where, el("p", {class: "error-text"}, sentenceFor(error)),
    extra.length ? el("p", {class: "error-extra"}, ...extra.flatMap((part) => [part, " "])) : null);
}

/** A sentence of the page's own in the error box (a field left empty, a denied push). */
export function showMessage(text, where = null) {
  fillErrorBox(where, el("p", {class: "error-text"}, text));
}

export function clearError() {
  const box = errorBox();
  box.replaceChildren();
  box.classList.remove("visible");
}

/**
 * Runs an action for a button or form: disables the button meanwhile, clears the error box,
 * and shows what went wrong near `where` (then calls onError). Returns the action's result, or
 * undefined on error.
 */
export async function attempt(button, where, action, onError = null) {
  clearError();
  if (button) button.disabled = true;
  try {
    return await action();
  } catch (error) {
    // The session ended (back to login), or a step-up closed by the page itself: nothing to say.
    if (error && (error.code === "unauthorized" || error.quiet)) return undefined;
    showError(error, where);
    onError?.(error);
    return undefined;
  } finally {
    if (button) button.disabled = false;
  }
}

// ------------------------------------------------------------------ confirmation

/** A modal question; resolves true when confirmed. */
export function confirmAction(text, yesLabel = "Remove") {
  const dialog = document.getElementById("confirm-dialog");
  document.getElementById("confirm-text").textContent = text;
  const yes = document.getElementById("confirm-yes");
  const no = document.getElementById("confirm-no");
  yes.textContent = yesLabel;
  return new Promise((resolve) => {
    const done = (answer) => {
      yes.removeEventListener("click", onYes);
      no.removeEventListener("click", onNo);
      dialog.removeEventListener("cancel", onNo);
      dialog.close();
      resolve(answer);
    };
    const onYes = () => done(true);
    const onNo = () => done(false);
    yes.addEventListener("click", onYes);
    no.addEventListener("click", onNo);
    dialog.addEventListener("cancel", onNo);
    dialog.showModal();
    no.focus();
  });
}

// ------------------------------------------------------------------ words

export const DEVICE_TYPES = {
  ib_key: "IBKR Mobile (IB Key)",
  dsc_plus: "Digital Security Card+",
  scc: "Security Code Card",
  sms: "SMS",
  temporary_code: "Temporary code",
  online_scc: "Online Security Code Card",
  dsc: "Digital Security Card",
  gold: "Gold device",
  platinum: "Platinum device",
};

export const STATUSES = {
  pending: "Pending activation",
  active: "Active",
  inactive: "Inactive",
  locked: "Locked",
  lost: "Lost",
  returned: "Returned",
  expired: "Expired",
  revoked: "Revoked",
};

export const RESTRICTIONS = {
  no_pink_sheet_otcbb: "No trading in Pink Sheet and OTCBB stocks",
};

export const typeName = (type) => DEVICE_TYPES[type] || type;
export const statusName = (status) => STATUSES[status] || status;
export const restrictionText = (code) => RESTRICTIONS[code] || code.replaceAll("_", " ");

export function deviceLabel(device) {
  return device.label || typeName(device.type);
}

const usd = new Intl.NumberFormat("en-US", {style: "currency", currency: "USD"});
export function money(amount) {
  if (amount === null || amount === undefined) return "unlimited";
  return usd.format(amount);
}

const when = new Intl.DateTimeFormat("en-US", {dateStyle: "medium", timeStyle: "short"});
export function dateTime(iso) {
  if (!iso) return "–";
  const parsed = Date.parse(iso);
  return Number.isNaN(parsed) ? "–" : when.format(parsed);
}
