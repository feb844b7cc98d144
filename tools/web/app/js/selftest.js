// The app's OCRA against every test vector of RFC 6287, Appendix C (the same list as the
// server's tests/unit/test_ocra.py), run in the browser: #selftest-result says how many pass.
import { hexToBytes, ocra } from "./ocra.js";

const KEY20 = hexToBytes("3132333435363738393031323334353637383930");
const KEY32 = hexToBytes("3132333435363738393031323334353637383930313233343536373839303132");
const KEY64 = hexToBytes("31323334353637383930313233343536373839303132333435363738393031323334353637383930"
  + "313233343536373839303132333435363738393031323334");
const PIN = "1234";
const T = 0x132d0b6; // minutes: Mar 25 2008, 12:06:30 GMT

const ONE_WAY = [
  ["OCRA-1:HOTP-SHA1-6:QN08", KEY20, {}, [
    ["00000000", "237653"], ["11111111", "243178"], ["22222222", "653583"], ["33333333", "740991"],
    ["44444444", "608993"], ["55555555", "388898"], ["66666666", "816933"], ["77777777", "224598"],
    ["88888888", "750600"], ["99999999", "294470"]]],
  ["OCRA-1:HOTP-SHA256-8:QN08-PSHA1", KEY32, { pin: PIN }, [
    ["00000000", "83238735"], ["11111111", "01501458"], ["22222222", "17957585"], ["33333333", "86776967"],
    ["44444444", "86807031"]]],
  ["OCRA-1:HOTP-SHA512-8:QN08-T1M", KEY64, { timeSteps: T }, [
    ["00000000", "95209754"], ["11111111", "55907591"], ["22222222", "22048402"], ["33333333", "24218844"],
    ["44444444", "36209546"]]],
  ["OCRA-1:HOTP-SHA256-8:QA08", KEY32, {}, [
    ["CLI22220SRV11110", "28247970"], ["CLI22221SRV11111", "01984843"], ["CLI22222SRV11112", "65387857"],
    ["CLI22223SRV11113", "03351211"], ["CLI22224SRV11114", "83412541"],
    ["SRV11110CLI22220", "15510767"], ["SRV11111CLI22221", "90175646"], ["SRV11112CLI22222", "33777207"],
    ["SRV11113CLI22223", "95285278"], ["SRV11114CLI22224", "28934924"]]],
  ["OCRA-1:HOTP-SHA512-8:QA08", KEY64, {}, [
    ["CLI22220SRV11110", "79496648"], ["CLI22221SRV11111", "76831980"], ["CLI22222SRV11112", "12250499"],
    ["CLI22223SRV11113", "90856481"], ["CLI22224SRV11114", "12761449"]]],
  ["OCRA-1:HOTP-SHA512-8:QA08-PSHA1", KEY64, { pin: PIN }, [
    ["SRV11110CLI22220", "18806276"], ["SRV11111CLI22221", "70020315"], ["SRV11112CLI22222", "01600026"],
    ["SRV11113CLI22223", "18951020"], ["SRV11114CLI22224", "32528969"]]],
  ["OCRA-1:HOTP-SHA256-8:QA08", KEY32, {}, [
    ["SIG10000", "53095496"], ["SIG11000", "04110475"], ["SIG12000", "31331128"], ["SIG13000", "76028668"],
    ["SIG14000", "46554205"]]],
  ["OCRA-1:HOTP-SHA512-8:QA10-T1M", KEY64, { timeSteps: T }, [
    ["SIG1000000", "77537423"], ["SIG1100000", "31970405"], ["SIG1200000", "10235557"],
    ["SIG1300000", "95213541"], ["SIG1400000", "65360607"]]],
];

const COUNTERS = [
  ["OCRA-1:HOTP-SHA256-8:C-QN08-PSHA1", KEY32, { pin: PIN }, [
    [0, "12345678", "65347737"], [1, "12345678", "86775851"], [2, "12345678", "78192410"],
    [3, "12345678", "71565254"], [4, "12345678", "10104329"], [5, "12345678", "65983500"],
    [6, "12345678", "70069104"], [7, "12345678", "91771096"], [8, "12345678", "75011558"],
    [9, "12345678", "08522129"]]],
  ["OCRA-1:HOTP-SHA512-8:C-QN08", KEY64, {}, [
    [0, "00000000", "07016083"], [1, "11111111", "63947962"], [2, "22222222", "70123924"],
    [3, "33333333", "25341727"], [4, "44444444", "33203315"], [5, "55555555", "34205738"],
    [6, "66666666", "44343969"], [7, "77777777", "51946085"], [8, "88888888", "20403879"],
    [9, "99999999", "31409299"]]],
];

async function run() {
  const cases = [];
  for (const [suite, key, extra, vectors] of ONE_WAY) {
    for (const [question, expected] of vectors) cases.push({ suite, key, options: extra, question, expected });
  }
  for (const [suite, key, extra, vectors] of COUNTERS) {
    for (const [counter, question, expected] of vectors) {
      cases.push({ suite, key, options: { ...extra, counter }, question, expected });
    }
  }
  // A PIN given as its hash works like the PIN; a time from a Unix time like the steps.
  const sha1 = new Uint8Array(await crypto.subtle.digest("SHA-1", new TextEncoder().encode(PIN)));
  cases.push({ suite: "OCRA-1:HOTP-SHA256-8:QN08-PSHA1", key: KEY32, options: { pinHash: sha1 },
    question: "00000000", expected: "83238735" });
  cases.push({ suite: "OCRA-1:HOTP-SHA512-8:QN08-T1M", key: KEY64, options: { unixTime: T * 60 + 30 },
    question: "00000000", expected: "95209754" });

  const failures = [];
  for (const c of cases) {
    let got;
    try {
      got = await ocra(c.suite, c.key, c.question, c.options);
    } catch (error) {
      got = `error: ${error.message}`;
    }
    if (got !== c.expected) failures.push(`${c.suite} ${c.question}: expected ${c.expected}, got ${got}`);
  }
  const list = document.getElementById("selftest-failures");
  for (const failure of failures) {
    const item = document.createElement("li");
    item.textContent = failure;
    list.append(item);
  }
  const result = document.getElementById("selftest-result");
  result.textContent = failures.length ? `${failures.length} of ${cases.length} vectors fail`
    : `All ${cases.length} RFC 6287 vectors pass`;
  result.dataset.passed = String(cases.length - failures.length);
  result.dataset.failed = String(failures.length);
}

run();
