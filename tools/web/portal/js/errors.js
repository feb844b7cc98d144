// error.code (api.md) in words a client understands. The extra fields (attempts_left,
// retry_after_seconds, available_*, primary_username) are added by ui.showError.

export const SENTENCES = {
  // logging in
  invalid_credentials: "The username or password is incorrect.",
  too_many_attempts: "Too many failed attempts.",
  login_expired: "This login has expired. Please log in again.",
  invalid_response: "That response is not correct. Check the code and type it again.",
  challenge_expired: "The code has expired. Ask for a new one.",
  no_challenge: "Choose a device first.",
  answer_on_device: "Approve the notification on your phone, or choose \"Didn't get the notification?\" to use a code.",
  challenge_in_progress: "Another code was just requested. Use the latest one.",
  resend_too_soon: "A code was sent a moment ago.",
  device_locked: "This device is locked after too many wrong answers.",
  device_not_found: "That device is not available any more.",
  unsupported_method: "This device cannot be used that way.",
  delivery_failed: "The message could not be sent. Please try again.",
  throttled: "Too many requests.",
  unauthorized: "Your session has ended. Please log in again.",
  insufficient_scope: "This needs a full session: confirm with your security device first.",
  step_up_required: "This change needs a recent confirmation with one of your strongest devices.",
  step_up_cancelled: "Nothing was changed: the confirmation with your device was cancelled.",
  push_paused: "Notifications to your phone are paused after several denied requests. Use another device or a code.",
  too_many_challenges: "Too many codes were asked for.",
  expired: "This request has expired.",
  // devices
  last_device: "You cannot remove your only active device: activate another one first.",
  shared_device: "This device is shared with another username: cancel the sharing first.",
  device_changed: "The device changed meanwhile. Please try again.",
  devices_changed: "Your devices changed meanwhile. Please try again.",
  not_eligible: "A Digital Security Card+ is available to IB Key users with at least USD 500,000, or to replace a lost or broken one.",
  weak_pin: "That PIN is too easy to guess. Avoid repeated or consecutive digits, common PINs and your date of birth.",
  request_pending: "You already have a Digital Security Card+ request in progress.",
  not_a_dsc_plus: "Only a Digital Security Card+ has a PIN to change.",
  not_pending: "This device is not waiting for activation.",
  not_returnable: "This device cannot be returned.",
  not_reactivatable: "This device cannot be reactivated.",
  another_device_required: "Log in with another device to do this.",
  shared_device_in_use: "This device is in use by another username.",
  qr_expired_or_used: "This QR code has expired or was already used. Show a new one.",
  phone_not_on_file: "That phone number is not on file.",
  temporary_code_session_required: "An Online Security Code Card needs a session opened with a temporary code.",
  // withdrawals
  limit_exceeded: "This amount is over your withdrawal limits.",
  device_limit_too_low: "This device's limits do not cover this amount. Choose another device.",
  withdrawal_expired: "This withdrawal request has expired. Start again.",
  withdrawal_not_found: "This withdrawal request is not known any more. Start again.",
  // settings
  accept_risk_required: "To opt out, tick \"I accept the risk\".",
  not_primary_user: "Only the primary user of the account can change this setting.",
  opt_out_not_allowed: "Opting out of the Secure Login System is not allowed for accounts in your jurisdiction.",
  // sharing
  different_identification: "The two usernames do not have the same identification details (date of birth, citizenship, residence, ID document). If they belong to you, ask Client Services to correct them.",
  temporary_device_assigned: "One of the usernames has a temporary code or an Online Security Code Card. Share a device once your own device is active again.",
  less_secure_device: "The device you chose is less secure than another one you have. Share the most secure device.",
  ib_key_use_add_user: "IB Key is shared differently: open IBKR Mobile and use \"Add user\".",
  no_shareable_device: "That username has no physical device that can be shared.",
  share_expired: "This sharing request has expired. Start again.",
  share_not_found: "This sharing request is not known any more.",
  share_changed: "The sharing changed meanwhile. Please try again.",
  not_active: "This sharing is not active.",
  // anything
  invalid_request: "Some of the information is missing or not in the expected form.",
  unsupported_media_type: "The request was not understood.",
  not_found: "That was not found.",
  method_not_allowed: "That action is not available.",
  forbidden: "You are not allowed to do this.",
  service_unavailable: "The service is temporarily unavailable.",
  busy: "The service is busy.",
  contact_client_services: "Please contact Client Services.",
};

export function sentenceFor(error) {
  if (error && error.code && SENTENCES[error.code]) return SENTENCES[error.code];
  if (error instanceof TypeError) return "The service could not be reached. Check your connection and try again.";
  if (error && error.status >= 500) return "Something went wrong on our side. Please try again.";
  return "Something went wrong. Please try again.";
}
