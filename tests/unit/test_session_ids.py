"""QR session ids (rules.md, "QR / session ID"): Crockford's base32, shown in groups of
four, read back whatever the case, spaces, hyphens and look-alike letters."""
import re

import pytest
from pydantic import ValidationError

from securelogin.api.schemas import CompleteQrActivationBody
from securelogin.crypto.session_ids import ALPHABET, BITS_PER_CHARACTER, grouped, new_session_id, normalise
from securelogin.policy import Policy

CROCKFORD = re.compile(r"[0-9A-HJKMNP-TV-Z]+")


def test_the_alphabet_is_crockfords_base32():
    assert len(ALPHABET) == len(set(ALPHABET)) == 2 ** BITS_PER_CHARACTER
    assert CROCKFORD.fullmatch(ALPHABET) and not set("ILOU") & set(ALPHABET)


def test_an_id_is_sixteen_random_characters_of_at_least_75_bits():
    length = Policy().qr_session_length
    assert length == 16 and length * BITS_PER_CHARACTER >= 75
    ids = {new_session_id(length) for _ in range(200)}
    assert len(ids) == 200 and all(len(i) == 16 and CROCKFORD.fullmatch(i) for i in ids)
    assert set("".join(ids)) == set(ALPHABET)  # 3,200 characters: every one of the 32 turns up


def test_an_id_is_shown_in_groups_of_four():
    assert grouped("7KQ4M9XD2RTBH6WN") == "7KQ4-M9XD-2RTB-H6WN"


@pytest.mark.parametrize("typed", [
    "7KQ4M9XD2RT0H61N", "7kq4m9xd2rt0h61n", "7KQ4-M9XD-2RT0-H61N", " 7kq4 m9xd - 2rt0 h61n ",
    "7KQ4M9XD2RTOH6IN", "7kq4m9xd2rtoh6ln", "7KQ4-m9xd-2RTo-H6lN\n", "7-K-Q-4-M-9-X-D-2-R-T-0-H-6-1-N"])
def test_a_typed_id_reads_as_the_one_issued(typed):
    assert normalise(typed, 16) == "7KQ4M9XD2RT0H61N"


@pytest.mark.parametrize("typed", [
    "", "-", "7KQ4M9XD2RT0H61", "7KQ4M9XD2RT0H61NN", "7KQ4M9XD2RT0H61U",  # too short, too long, a U
    "7KQ4M9XD2RT0H61_", "7KQ4M9XD2RT0H61!", "7KQ4.M9XD.2RT0.H61N",  # not of the alphabet
    "7KQ4M9XD2RT0H6\u0131N", "7KQ4M9XD2RT0H6\u00df",  # letters that upper() makes I, or SS
    "7KQ4M9XD2RT0H6\uff11N",  # a full-width digit
    "Zm9yLXNhbXBsZS1vbmx5", "Jx0rQm3v8N2kLw5yT7bZ1A",  # other flows' ids (random_token)
])
def test_what_is_no_id_once_normalised_is_none(typed):
    assert normalise(typed, 16) is None


ENROLMENT = {"pin": "7391", "public_key": "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE", "platform": "ios"}


@pytest.mark.parametrize("typed", [" 7kq4 - m9xd 2rto h6ln ", "7KQ4-M9XD", "Jx0rQm3v8N2kLw5yT7bZ1A", "?", "x" * 64])
def test_the_body_takes_an_id_as_typed_and_leaves_what_is_no_id_to_the_service(typed):
    # a wrong length or a character out of the alphabet is an id never issued (404), not a bad request
    assert CompleteQrActivationBody.model_validate({"session_id": typed, **ENROLMENT}).session_id == typed


@pytest.mark.parametrize("absurd", ["", "x" * 65])
def test_an_empty_or_absurdly_long_id_is_a_bad_request(absurd):
    with pytest.raises(ValidationError):
        CompleteQrActivationBody.model_validate({"session_id": absurd, **ENROLMENT})
