// The app's cryptography, all WebCrypto:
// - the P-256 key pair that signs push decisions: the private key is made non-extractable
//   (no script, this one included, can ever read it; it can only be asked to sign), and the
//   public key goes to the server as standard base64 of its DER SubjectPublicKeyInfo;
// - push signatures: ECDSA-SHA256 over the UTF-8 bytes of
//   "{push_id}|{nonce}|{decision}|{number}|{statement}" (rules.md: `number` is the 3 digits the
//   person typed for an approval of a push that has a match number, empty otherwise; `statement`
//   is the push's own, so an approval is of what the person saw), sent DER-encoded in standard
//   base64 (WebCrypto signs as raw r||s, so it is re-encoded);
// - the PIN verifier: PBKDF2-SHA256 over the PIN with a random salt, to check the PIN on the
//   phone before showing a response or approving a push (the server needs the PIN itself only
//   when a user is added or recovered, and the person types it then).

const ECDSA = { name: "ECDSA", namedCurve: "P-256" };
const PIN_ITERATIONS = 210000;

export function toBase64(bytes) {
  let text = "";
  for (const b of new Uint8Array(bytes)) text += String.fromCharCode(b);
  return btoa(text);
}

export function randomId(prefix, bytes = 12) {
  const raw = crypto.getRandomValues(new Uint8Array(bytes));
  return prefix + Array.from(raw, (b) => b.toString(16).padStart(2, "0")).join("");
}

export async function newSigningKey() {
  // extractable: false applies to the private key; a public key is always exportable.
  const pair = await crypto.subtle.generateKey(ECDSA, false, ["sign", "verify"]);
  const spki = toBase64(await crypto.subtle.exportKey("spki", pair.publicKey));
  return { privateKey: pair.privateKey, publicKey: pair.publicKey, publicKeySpki: spki };
}

// A DER INTEGER from a big-endian unsigned number: no leading zeros, one 0x00 if the top bit is set.
function derInteger(bytes) {
  let start = 0;
  while (start < bytes.length - 1 && bytes[start] === 0) start += 1;
  let body = Array.from(bytes.slice(start));
  if (body[0] & 0x80) body = [0, ...body];
  return [0x02, body.length, ...body];
}

// WebCrypto's ECDSA signature (IEEE P1363: r||s, 32 bytes each for P-256) as DER (RFC 3279).
export function p1363ToDer(signature) {
  const raw = new Uint8Array(signature);
  const half = raw.length / 2;
  const body = [...derInteger(raw.slice(0, half)), ...derInteger(raw.slice(half))];
  return new Uint8Array([0x30, body.length, ...body]); // at most 72 bytes: short-form lengths
}

export function pushDecisionMessage(pushId, nonce, decision, number, statement) {
  return new TextEncoder().encode(`${pushId}|${nonce}|${decision}|${number || ""}|${statement}`);
}

export async function signDecision(privateKey, { pushId, nonce, decision, number = "", statement }) {
  const raw = await crypto.subtle.sign({ name: "ECDSA", hash: "SHA-256" }, privateKey,
    pushDecisionMessage(pushId, nonce, decision, number, statement));
  return toBase64(p1363ToDer(raw));
}

async function pinBits(pin, salt, iterations) {
  const material = await crypto.subtle.importKey("raw", new TextEncoder().encode(pin), "PBKDF2", false,
    ["deriveBits"]);
  return new Uint8Array(await crypto.subtle.deriveBits(
    { name: "PBKDF2", hash: "SHA-256", salt, iterations }, material, 256));
}

export async function pinVerifier(pin) {
  const salt = crypto.getRandomValues(new Uint8Array(16));
  return { salt, hash: await pinBits(pin, salt, PIN_ITERATIONS), iterations: PIN_ITERATIONS };
}

export async function pinMatches(verifier, pin) {
  if (!verifier) return false;
  const candidate = await pinBits(pin, verifier.salt, verifier.iterations);
  let diff = candidate.length ^ verifier.hash.length;
  for (let i = 0; i < candidate.length; i += 1) diff |= candidate[i] ^ verifier.hash[i];
  return diff === 0;
}
