// What the app keeps, in this browser's IndexedDB (database "ibkey-app"), per origin and profile.
//
//   meta       "app": {platform, push_token}              the install's push token (a real app gets
//                                                         it from FCM/APNs) and its platform
//   instances  app_instance_id -> {app_instance_id, pin_verifier: {salt, hash, iterations},
//                                  created_at}            the server's app instance (one per
//                                                         install, shared by "Add user")
//   users      device_id -> {device_id, username, app_instance_id, ocra_suite, ocra_key,
//                            signing_key, public_key, enrolled_at, via}
//   answered   push_id -> {push_id, decision, at}   pushes already dealt with: answered here, or
//                                                   dropped (expired, withdrawn, answered elsewhere)
//
// Keys are stored as CryptoKey objects (IndexedDB keeps them by structured clone), so
// - signing_key, the P-256 private key, was made with extractable: false: it signs, nothing reads it;
// - ocra_key, the IB Key's OCRA secret (ocra_secret_hex from the activation answer, given once),
//   is imported at once as a non-extractable HMAC key and the hex is dropped: it computes
//   responses, nothing reads it back;
// - the PIN is not kept, only a PBKDF2 verifier to check it on the phone (the server asks for the
//   PIN itself when a user is added or recovered: the person types it then).
// A real IBKR Mobile would hold the private key and the OCRA secret in the OS keystore (Android
// Keystore / StrongBox, iOS Secure Enclave and Keychain) behind the PIN or biometrics, so that
// they cannot leave the phone even with root; a browser can only promise that scripts of this
// origin cannot export them. A 4-6 character PIN's verifier falls to an offline search by
// whoever copies the profile: the keystore's hardware-enforced retry limit is what protects it
// on a phone. Nothing here is a secret the server relies on alone: a push also needs the
// nonce of the notification, and the server counts wrong responses.

const DB_NAME = "ibkey-app";
const STORES = ["meta", "instances", "users", "answered"];
const KEYS = { meta: "name", instances: "app_instance_id", users: "device_id", answered: "push_id" };
// Version 2: pushes are known by their push_id (version 1 kept a transaction_id).
const VERSION = 2;

let opening = null;

function open() {
  if (!opening) {
    opening = new Promise((resolve, reject) => {
      const request = indexedDB.open(DB_NAME, VERSION);
      request.onupgradeneeded = (event) => {
        if (event.oldVersion < 2 && request.result.objectStoreNames.contains("answered")) {
          request.result.deleteObjectStore("answered");
        }
        for (const name of STORES) {
          if (!request.result.objectStoreNames.contains(name)) {
            request.result.createObjectStore(name, { keyPath: KEYS[name] });
          }
        }
      };
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error);
      request.onblocked = () => reject(new Error("The app's storage is in use by another window."));
    });
  }
  return opening;
}

function done(request) {
  return new Promise((resolve, reject) => {
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

async function run(storeNames, mode, work) {
  const db = await open();
  const tx = db.transaction(storeNames, mode);
  const result = work(...storeNames.map((name) => tx.objectStore(name)));
  await new Promise((resolve, reject) => {
    tx.oncomplete = resolve;
    tx.onerror = () => reject(tx.error);
    tx.onabort = () => reject(tx.error || new Error("storage transaction aborted"));
  });
  return result;
}

export async function get(store, key) {
  const db = await open();
  return done(db.transaction(store).objectStore(store).get(key));
}

export async function all(store) {
  const db = await open();
  return done(db.transaction(store).objectStore(store).getAll());
}

export async function put(store, value) {
  await run([store], "readwrite", (s) => { s.put(value); });
}

export async function remove(store, key) {
  await run([store], "readwrite", (s) => { s.delete(key); });
}

// A user enrolled (or enrolled again): the new device replaces any older one of that username,
// and the instance is recorded in the same transaction.
export async function saveEnrolment(user, instance) {
  const existing = (await all("users")).filter((u) => u.username === user.username && u.device_id !== user.device_id);
  await run(["users", "instances"], "readwrite", (users, instances) => {
    for (const old of existing) users.delete(old.device_id);
    users.put(user);
    if (instance) instances.put(instance);
  });
}

// "Clear app data": everything goes, as when the app is reinstalled.
export async function clearAll() {
  await run(STORES, "readwrite", (...stores) => { for (const s of stores) s.clear(); });
}
