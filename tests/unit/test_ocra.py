"""OCRA against every test vector of RFC 6287, Appendix C."""
import pytest

from securelogin.crypto.ocra import OcraError, OcraSuite, ocra

KEY20 = bytes.fromhex("3132333435363738393031323334353637383930")
KEY32 = bytes.fromhex("3132333435363738393031323334353637383930313233343536373839303132")
KEY64 = bytes.fromhex("31323334353637383930313233343536373839303132333435363738393031323334353637383930"
                      "313233343536373839303132333435363738393031323334")
PIN = "1234"
T = 0x132D0B6  # minutes: Mar 25 2008, 12:06:30 GMT

ONE_WAY = [
    ("OCRA-1:HOTP-SHA1-6:QN08", KEY20, {}, [
        ("00000000", "237653"), ("11111111", "243178"), ("22222222", "653583"), ("33333333", "740991"),
        ("44444444", "608993"), ("55555555", "388898"), ("66666666", "816933"), ("77777777", "224598"),
        ("88888888", "750600"), ("99999999", "294470")]),
    ("OCRA-1:HOTP-SHA256-8:QN08-PSHA1", KEY32, {"pin": PIN}, [
        ("00000000", "83238735"), ("11111111", "01501458"), ("22222222", "17957585"), ("33333333", "86776967"),
        ("44444444", "86807031")]),
    ("OCRA-1:HOTP-SHA512-8:QN08-T1M", KEY64, {"time_steps": T}, [
        ("00000000", "95209754"), ("11111111", "55907591"), ("22222222", "22048402"), ("33333333", "24218844"),
        ("44444444", "36209546")]),
    # C.2, mutual challenge-response: server and client computations
    ("OCRA-1:HOTP-SHA256-8:QA08", KEY32, {}, [
        ("CLI22220SRV11110", "28247970"), ("CLI22221SRV11111", "01984843"), ("CLI22222SRV11112", "65387857"),
        ("CLI22223SRV11113", "03351211"), ("CLI22224SRV11114", "83412541"),
        ("SRV11110CLI22220", "15510767"), ("SRV11111CLI22221", "90175646"), ("SRV11112CLI22222", "33777207"),
        ("SRV11113CLI22223", "95285278"), ("SRV11114CLI22224", "28934924")]),
    ("OCRA-1:HOTP-SHA512-8:QA08", KEY64, {}, [
        ("CLI22220SRV11110", "79496648"), ("CLI22221SRV11111", "76831980"), ("CLI22222SRV11112", "12250499"),
        ("CLI22223SRV11113", "90856481"), ("CLI22224SRV11114", "12761449")]),
    ("OCRA-1:HOTP-SHA512-8:QA08-PSHA1", KEY64, {"pin": PIN}, [
        ("SRV11110CLI22220", "18806276"), ("SRV11111CLI22221", "70020315"), ("SRV11112CLI22222", "01600026"),
        ("SRV11113CLI22223", "18951020"), ("SRV11114CLI22224", "32528969")]),
    # C.3, plain signature
    ("OCRA-1:HOTP-SHA256-8:QA08", KEY32, {}, [
        ("SIG10000", "53095496"), ("SIG11000", "04110475"), ("SIG12000", "31331128"), ("SIG13000", "76028668"),
        ("SIG14000", "46554205")]),
    ("OCRA-1:HOTP-SHA512-8:QA10-T1M", KEY64, {"time_steps": T}, [
        ("SIG1000000", "77537423"), ("SIG1100000", "31970405"), ("SIG1200000", "10235557"),
        ("SIG1300000", "95213541"), ("SIG1400000", "65360607")]),
]

COUNTERS = [
    ("OCRA-1:HOTP-SHA256-8:C-QN08-PSHA1", KEY32, {"pin": PIN}, [
        (0, "12345678", "65347737"), (1, "12345678", "86775851"), (2, "12345678", "78192410"),
        (3, "12345678", "71565254"), (4, "12345678", "10104329"), (5, "12345678", "65983500"),
        (6, "12345678", "70069104"), (7, "12345678", "91771096"), (8, "12345678", "75011558"),
        (9, "12345678", "08522129")]),
    ("OCRA-1:HOTP-SHA512-8:C-QN08", KEY64, {}, [
        (0, "00000000", "07016083"), (1, "11111111", "63947962"), (2, "22222222", "70123924"),
        (3, "33333333", "25341727"), (4, "44444444", "33203315"), (5, "55555555", "34205738"),
        (6, "66666666", "44343969"), (7, "77777777", "51946085"), (8, "88888888", "20403879"),
        (9, "99999999", "31409299")]),
]


@pytest.mark.parametrize(("suite", "key", "extra", "question", "expected"),
                         [(s, k, e, q, r) for s, k, e, vectors in ONE_WAY for q, r in vectors])
def test_rfc6287_vectors(suite, key, extra, question, expected):
    assert ocra(suite, key, question, **extra) == expected


@pytest.mark.parametrize(("suite", "key", "extra", "counter", "question", "expected"),
                         [(s, k, e, c, q, r) for s, k, e, vectors in COUNTERS for c, q, r in vectors])
def test_rfc6287_counter_vectors(suite, key, extra, counter, question, expected):
    assert ocra(suite, key, question, counter=counter, **extra) == expected


def test_a_pin_hash_works_like_the_pin():
    import hashlib
    digest = hashlib.sha1(PIN.encode()).digest()  # noqa: S324 - SHA-1 is what the suite names
    assert ocra("OCRA-1:HOTP-SHA256-8:QN08-PSHA1", KEY32, "00000000", pin_hash=digest) == "83238735"


def test_time_from_a_unix_time():
    assert ocra("OCRA-1:HOTP-SHA512-8:QN08-T1M", KEY64, "00000000", unix_time=T * 60 + 30) == "95209754"


def test_parsing_the_services_suites():
    dsc = OcraSuite.parse("OCRA-1:HOTP-SHA256-8:QN06-PSHA1")
    assert (dsc.hash_name, dsc.digits, dsc.question_format, dsc.question_length, dsc.pin_hash) == \
        ("sha256", 8, "N", 6, "sha1")
    session = OcraSuite.parse("OCRA-1:HOTP-SHA1-6:QH40-S064-T30S")
    assert session.session_length == 64 and session.time_step_seconds == 30


@pytest.mark.parametrize("bad", ["OCRA-2:HOTP-SHA1-6:QN08", "OCRA-1:HOTP-MD5-6:QN08", "OCRA-1:HOTP-SHA1-3:QN08",
                                 "OCRA-1:HOTP-SHA1-6:QX08", "OCRA-1:HOTP-SHA1-6:QN99", "OCRA-1:HOTP-SHA1-6:QN08-Z",
                                 "OCRA-1:HOTP-SHA1-6:QN08-T60M", "nonsense"])
def test_bad_suites_are_refused(bad):
    with pytest.raises(OcraError):
        OcraSuite.parse(bad)


def test_missing_inputs_are_refused():
    with pytest.raises(OcraError):
        ocra("OCRA-1:HOTP-SHA256-8:QN08-PSHA1", KEY32, "1")
    with pytest.raises(OcraError):
        ocra("OCRA-1:HOTP-SHA256-8:C-QN08", KEY32, "1")
    with pytest.raises(OcraError):
        ocra("OCRA-1:HOTP-SHA256-8:QN06", KEY32, "1234567890123")
    with pytest.raises(OcraError):
        ocra("OCRA-1:HOTP-SHA256-8:QN06", KEY32, "12ab")
