// The screen of one device's challenge (login, withdrawal, step-up, sharing, card
// activation): what the person confirms (the flow's statement), what to do with the device,
// and the response field. Ids are the DOM contract's for the login (prefix ""), and prefixed
// for the other flows ("withdraw-", "stepup-", ...): #{p}statement, #{p}match-number (a push),
// #{p}challenge-code, #{p}indices, #{p}response, #{p}verify-submit, #{p}push-waiting,
// #{p}push-again, #{p}switch-to-code.
import {countdown, el, focusFirst, secondsFromNow, typeName} from "./ui.js";

const CODE_STEPS = {
  ib_key: "Open IBKR Mobile and tap Authenticate. Enter the challenge code and your PIN, then type the response code the app shows.",
  dsc_plus: "Turn on your Digital Security Card+ and enter your PIN. Enter the challenge code on the card, then type the 8-digit response it shows.",
  dsc: "Enter the challenge code in your Digital Security Card, then type the response it shows.",
  gold: "Enter the challenge code in your Gold device, then type the response it shows.",
  platinum: "Enter the challenge code in your Platinum device, then type the response it shows.",
};

/** What the person confirms: the statement the service fixed for the flow (rules.md). */
export function statementBox(id, statement) {
  if (!statement) return null;
  return el("div", {class: "statement-box"},
    el("span", {class: "code-label"}, "You are confirming"),
    el("p", {id, class: "statement"}, statement));
}

/**
 * Renders `issued` ({device_id, type, method, challenge}) into `container`.
 * options: prefix, device (for its label), submitLabel, intro (a line above),
 *   onAnswer(response, button, form): the caller checks the answer;
 *   onSwitchToCode(): push did not arrive, ask for a challenge code;
 *   onResend(method): a new message (sms, voice), a new push, or a new challenge once this one expired.
 */
export function renderChallenge(container, issued, options) {
  const p = options.prefix || "";
  const {type, method} = issued;
  const challenge = issued.challenge || {};
  const device = options.device || {};
  const name = device.label || typeName(type);
  const parts = [];
  if (options.intro) parts.push(el("p", {class: "challenge-intro"}, options.intro));
  parts.push(el("h2", {class: "challenge-title"}, name));
  parts.push(statementBox(`${p}statement`, challenge.statement));

  if (method === "push") {
    renderPush(container, parts, challenge, options);
    return;
  }

  let label = "Response";
  let inputmode = "numeric";
  if (challenge.challenge_code) {
    parts.push(el("p", {class: "steps-text"}, CODE_STEPS[type] || "Enter the challenge code in your device, then type its response."));
    parts.push(el("div", {class: "code-box"},
      el("span", {class: "code-label"}, "Challenge code"),
      el("span", {id: `${p}challenge-code`, class: "big-code"}, challenge.challenge_code)));
    label = "Response code";
  } else if (Array.isArray(challenge.indices)) {
    parts.push(el("p", {class: "steps-text"},
      type === "online_scc"
        ? "Find the values at these two index numbers on your Online Security Code Card, and type them one after the other."
        : "Find the values at these two index numbers on your Security Code Card, and type them one after the other."));
    const indices = [];
    challenge.indices.forEach((index, n) => {
      if (n) indices.push(" ");
      indices.push(el("span", {class: "index"}, index));
    });
    parts.push(el("div", {class: "code-box"},
      el("span", {class: "code-label"}, "Index numbers"),
      el("span", {id: `${p}indices`, class: "big-code indices"}, ...indices)));
    label = "Values at the two index numbers";
    inputmode = "text";
  } else if (challenge.sent_to) {
    parts.push(el("p", {class: "steps-text"}, method === "voice"
      ? ["We are calling ", el("strong", {class: "sent-to"}, challenge.sent_to), ". Listen for the 6-digit code."]
      : ["We sent a text message with a 6-digit code to ", el("strong", {class: "sent-to"}, challenge.sent_to), "."]));
    label = method === "voice" ? "Code from the call" : "Code from the message";
  } else if (type === "temporary_code") {
    parts.push(el("p", {class: "steps-text"}, "Type the temporary code Client Services gave you."));
    label = "Temporary code";
    inputmode = "text";
  }

  const input = el("input", {id: `${p}response`, name: "response", autocomplete: "one-time-code", inputmode,
    autocapitalize: "characters", spellcheck: "false", required: true});
  const submit = el("button", {id: `${p}verify-submit`, type: "submit", class: "primary"}, options.submitLabel || "Continue");
  const form = el("form", {id: `${p}response-form`, class: "inline-form", novalidate: true},
    el("div", {class: "field"}, el("label", {for: `${p}response`}, label), input), submit);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    options.onAnswer(input.value.trim(), submit, form);
  });
  parts.push(form);

  // Messages: a new one after resend_after_seconds, by SMS again or by a voice call.
  if (challenge.sent_to) {
    const left = el("span", {class: "countdown"});
    const resend = el("button", {id: `${p}resend`, type: "button", class: "link", disabled: true,
      onclick: () => options.onResend?.(method)}, method === "voice" ? "Call me again" : "Send a new code");
    const other = method === "voice"
      ? el("button", {id: `${p}sms-link`, type: "button", class: "link", disabled: true,
        onclick: () => options.onResend?.("sms")}, "Text me instead")
      : el("button", {id: `${p}voice-link`, type: "button", class: "link", disabled: true,
        onclick: () => options.onResend?.("voice")}, "Call me instead");
    const line = el("p", {id: `${p}resend-countdown`, class: "small muted resend"},
      "Didn't get it? You can ask for a new code in ", left, ".");
    parts.push(line, el("p", {class: "resend-actions"}, resend, " · ", other));
    const seconds = Number.isInteger(challenge.resend_after_seconds) ? challenge.resend_after_seconds : 0;
    countdown(left, secondsFromNow(seconds), {
      onDone: () => {
        line.replaceChildren("Didn't get it? You can ask for a new code now.");
        resend.disabled = false;
        other.disabled = false;
      },
    });
  }

  // The challenge's own expiry; then a new challenge.
  if (challenge.expires_at) {
    const left = el("span", {class: "countdown"});
    const line = el("p", {id: `${p}challenge-expires`, class: "small muted"}, "This code expires in ", left, ".");
    parts.push(line);
    countdown(left, challenge.expires_at, {
      onDone: () => {
        line.replaceChildren("This code has expired. ",
          el("button", {type: "button", class: "link", onclick: () => options.onResend?.(method === "code" ? null : method)},
            "Get a new one"));
      },
    });
  }

  container.replaceChildren(...parts);
  focusFirst(input);
}

// A push: the app shows the statement; the person types the number shown here (number
// matching), enters the PIN and approves. The caller polls its flow meanwhile.
function renderPush(container, parts, challenge, options) {
  const p = options.prefix || "";
  const number = typeof challenge.match_number === "string" ? challenge.match_number : "";
  const left = el("span", {class: "countdown"});
  const waitingLine = el("p", {class: "small muted"}, "Waiting for your approval… The notification expires in ", left, ".");
  parts.push(el("p", {class: "steps-text"}, el("strong", {}, "Check your phone."),
    " We sent a notification to IBKR Mobile. Open it, check that it says what is written above",
    number ? ", type the number below" : "", " and approve with your PIN."));
  if (number) {
    parts.push(el("div", {class: "code-box match-box"},
      el("span", {class: "code-label"}, "Enter this number in IB Key"),
      el("span", {id: `${p}match-number`, class: "big-code match-number", "aria-describedby": `${p}match-help`}, number),
      el("span", {id: `${p}match-help`, class: "match-help"}, `Enter ${number} in IB Key`)));
  }
  parts.push(el("div", {id: `${p}push-waiting`, class: "push-waiting", "aria-live": "polite"},
    el("span", {class: "spinner", "aria-hidden": "true"}), el("div", {}, waitingLine)));
  parts.push(el("p", {class: "resend-actions"},
    el("button", {id: `${p}push-again`, type: "button", class: "link",
      onclick: () => options.onResend?.("push")}, "Send a new notification"),
    " · ",
    el("button", {id: `${p}switch-to-code`, type: "button", class: "link",
      onclick: () => options.onSwitchToCode?.()}, "Didn't get the notification?")));
  container.replaceChildren(...parts);
  if (challenge.expires_at) {
    countdown(left, challenge.expires_at, {
      doneText: "now",
      onDone: () => {
        waitingLine.replaceChildren("The notification has expired. Send a new one, or use a code instead.");
        waitingLine.classList.remove("muted");
        container.querySelector(".spinner")?.remove();
      },
    });
  }
  focusFirst(container);
}
