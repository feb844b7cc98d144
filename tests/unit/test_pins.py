import pytest

from securelogin.domain.models import IdDocument, Identity
from securelogin.domain.pins import CARD_PIN, IB_KEY_PIN, PersonalData, pin_problem

PERSONAL = PersonalData.of(Identity("1983-07-29", "US", "US", IdDocument("passport", "P9911223"), "078051120"),
                           ["+15557654321"])


@pytest.mark.parametrize("pin", ["12", "1234567", "12 4", "12345", "abcd"])
def test_card_pins_are_four_digits(pin):
    assert pin_problem(pin, CARD_PIN, None)


@pytest.mark.parametrize("pin", ["1111", "aaaa", "1234", "4321", "abcd", "DCBA", "5678", "2580", "6969", "0000"])
def test_obvious_pins_are_refused(pin):
    assert pin_problem(pin, IB_KEY_PIN, None)


@pytest.mark.parametrize("pin", ["1983", "0729", "2907", "5765", "9911", "0780", "1120"])
def test_pins_from_personal_data_are_refused(pin):
    assert pin_problem(pin, IB_KEY_PIN, PERSONAL) == "comes from your personal data"


@pytest.mark.parametrize("pin", ["7Q!x2", "9z#4", "4831", "k2@P9m"])
def test_good_pins_pass(pin):
    assert pin_problem(pin, IB_KEY_PIN, PERSONAL) is None


def test_the_blocklist_has_at_least_twenty_pins():
    from securelogin.domain.pins import COMMON_PINS
    assert len(COMMON_PINS) >= 20
