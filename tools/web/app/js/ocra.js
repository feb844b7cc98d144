// OCRA, the OATH Challenge-Response Algorithm (RFC 6287), with WebCrypto's HMAC: the same
// computation as the server's securelogin/crypto/ocra.py, input for input.
//
//   ocra("OCRA-1:HOTP-SHA256-8:QN06", key, "123456")                  IB Key (key: HMAC CryptoKey)
//   ocra("OCRA-1:HOTP-SHA256-8:QN06-PSHA1", seedBytes, "123456", {pin: "4831"})   DSC+ card
//
// `key` is either an HMAC CryptoKey made for the suite's hash (the IB Key's secret is kept so,
// non-extractable) or the raw key bytes (a Uint8Array), imported here for one computation.
// Supported data inputs: counter C; questions QNxx, QAxx, QHxx (04-64); PIN hash
// PSHA1|PSHA256|PSHA512; session Snnn; time T<n><S|M|H>.

export class OcraError extends Error {}

const HASHES = { SHA1: "SHA-1", SHA256: "SHA-256", SHA512: "SHA-512" };
const STEP_SECONDS = { S: 1, M: 60, H: 3600 };
const TIME_STEP_LIMITS = { S: 59, M: 59, H: 48 };

export function parseSuite(text) {
  const parts = String(text).split(":");
  if (parts.length !== 3 || parts[0] !== "OCRA-1") throw new OcraError(`not an OCRA-1 suite: ${text}`);
  const crypto = /^HOTP-(SHA1|SHA256|SHA512)-(\d{1,2})$/.exec(parts[1]);
  const digits = crypto ? Number(crypto[2]) : -1;
  if (!crypto || !(digits === 0 || (digits >= 4 && digits <= 10))) {
    throw new OcraError(`bad crypto function in ${text}`);
  }
  let inputs = parts[2].split("-");
  const counter = inputs[0] === "C";
  if (counter) inputs = inputs.slice(1);
  const question = /^Q([NAH])(\d\d)$/.exec(inputs[0] || "");
  if (!question || Number(question[2]) < 4 || Number(question[2]) > 64) {
    throw new OcraError(`bad question format in ${text}`);
  }
  let pinHash = null;
  let sessionLength = null;
  let timeStepSeconds = null;
  for (const item of inputs.slice(1)) {
    let m;
    if ((m = /^P(SHA1|SHA256|SHA512)$/.exec(item)) && pinHash === null) {
      pinHash = HASHES[m[1]];
    } else if ((m = /^S(\d{3})$/.exec(item)) && sessionLength === null) {
      sessionLength = Number(m[1]);
    } else if ((m = /^T(\d{1,2})([SMH])$/.exec(item)) && timeStepSeconds === null) {
      const n = Number(m[1]);
      if (n < 1 || n > TIME_STEP_LIMITS[m[2]]) throw new OcraError(`bad time step in ${text}`);
      timeStepSeconds = n * STEP_SECONDS[m[2]];
    } else {
      throw new OcraError(`bad data input ${item} in ${text}`);
    }
  }
  return {
    text, hash: HASHES[crypto[1]], digits, counter, questionFormat: question[1],
    questionLength: Number(question[2]), pinHash, sessionLength, timeStepSeconds,
  };
}

export function hexToBytes(hex) {
  const clean = String(hex).replace(/\s+/g, "");
  if (clean.length % 2 !== 0 || /[^0-9a-fA-F]/.test(clean)) throw new OcraError("not hexadecimal");
  const bytes = new Uint8Array(clean.length / 2);
  for (let i = 0; i < bytes.length; i += 1) bytes[i] = parseInt(clean.slice(2 * i, 2 * i + 2), 16);
  return bytes;
}

export function bytesToHex(bytes) {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

function bigEndian8(value) {
  const out = new Uint8Array(8);
  let n = BigInt(value);
  for (let i = 7; i >= 0; i -= 1) {
    out[i] = Number(n & 0xffn);
    n >>= 8n;
  }
  return out;
}

// The 128-byte Q input; a mutual challenge-response question may be two questions joined.
export function questionBytes(suite, question) {
  if (question.length < 1 || question.length > 2 * suite.questionLength) {
    throw new OcraError("question longer than the suite allows");
  }
  let raw;
  if (suite.questionFormat === "N") {
    if (!/^\d+$/.test(question)) throw new OcraError("numeric question expected");
    let hex = BigInt(question).toString(16);
    if (hex.length % 2) hex += "0"; // as the RFC's reference code: pad on the right
    raw = hexToBytes(hex);
  } else if (suite.questionFormat === "H") {
    raw = hexToBytes(question + (question.length % 2 ? "0" : ""));
  } else {
    if (/[^\x00-\x7f]/.test(question)) throw new OcraError("ASCII question expected");
    raw = new TextEncoder().encode(question);
  }
  const out = new Uint8Array(128);
  out.set(raw.slice(0, 128));
  return out;
}

function concat(chunks) {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const chunk of chunks) {
    out.set(chunk, at);
    at += chunk.length;
  }
  return out;
}

// An HMAC key for the suite, non-extractable, from raw bytes (hex string or Uint8Array).
export async function importOcraKey(suiteText, secret, extractable = false) {
  const suite = parseSuite(suiteText);
  const raw = typeof secret === "string" ? hexToBytes(secret) : secret;
  return crypto.subtle.importKey("raw", raw, { name: "HMAC", hash: suite.hash }, extractable, ["sign"]);
}

export async function ocra(suiteText, key, question, options = {}) {
  const suite = parseSuite(suiteText);
  const chunks = [new TextEncoder().encode(suite.text), new Uint8Array([0])];
  if (suite.counter) {
    if (options.counter === undefined || options.counter === null) throw new OcraError("the suite needs a counter");
    chunks.push(bigEndian8(options.counter));
  }
  chunks.push(questionBytes(suite, question));
  if (suite.pinHash) {
    let pinHash = options.pinHash;
    if (!pinHash) {
      if (options.pin === undefined || options.pin === null) throw new OcraError("the suite needs a PIN");
      pinHash = new Uint8Array(await crypto.subtle.digest(suite.pinHash, new TextEncoder().encode(options.pin)));
    }
    chunks.push(pinHash);
  }
  if (suite.sessionLength !== null) {
    const session = options.session || new Uint8Array(0);
    const padded = new Uint8Array(suite.sessionLength);
    const tail = session.slice(Math.max(0, session.length - suite.sessionLength));
    padded.set(tail, suite.sessionLength - tail.length);
    chunks.push(padded);
  }
  if (suite.timeStepSeconds !== null) {
    let steps = options.timeSteps;
    if (steps === undefined || steps === null) {
      if (options.unixTime === undefined || options.unixTime === null) throw new OcraError("the suite needs a time");
      steps = Math.floor(options.unixTime / suite.timeStepSeconds);
    }
    chunks.push(bigEndian8(steps));
  }
  const hmacKey = key instanceof CryptoKey ? key : await importOcraKey(suiteText, key);
  const mac = new Uint8Array(await crypto.subtle.sign("HMAC", hmacKey, concat(chunks)));
  if (suite.digits === 0) return bytesToHex(mac);
  const offset = mac[mac.length - 1] & 0x0f;
  const number = ((mac[offset] & 0x7f) << 24) | (mac[offset + 1] << 16) | (mac[offset + 2] << 8) | mac[offset + 3];
  return String(number % 10 ** suite.digits).padStart(suite.digits, "0");
}
