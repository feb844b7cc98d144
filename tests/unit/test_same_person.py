import pytest

from securelogin.domain.models import IdDocument, Identity
from securelogin.services.sharing import same_person

BASE = Identity("1980-01-31", "US", "US", IdDocument("passport", "P1"), "078051120")


def test_the_same_identity_is_the_same_person():
    assert same_person(BASE, Identity("1980-01-31", "US", "US", IdDocument("Passport", "P1"), None))


def test_a_us_person_may_match_by_ssn_with_another_document():
    assert same_person(BASE, Identity("1980-01-31", "US", "US", IdDocument("driver_license", "D9"), "078051120"))


@pytest.mark.parametrize("other", [
    Identity("1980-01-30", "US", "US", IdDocument("passport", "P1"), "078051120"),
    Identity("1980-01-31", "CA", "US", IdDocument("passport", "P1"), "078051120"),
    Identity("1980-01-31", "US", "GB", IdDocument("passport", "P1"), "078051120"),
    Identity("1980-01-31", "US", "US", IdDocument("passport", "P2"), "111111111"),
])
def test_anything_else_is_not(other):
    assert not same_person(BASE, other)


def test_non_us_persons_need_the_same_document():
    a = Identity("1980-01-31", "FR", "FR", IdDocument("passport", "F1"), "123")
    b = Identity("1980-01-31", "FR", "FR", IdDocument("passport", "F2"), "123")
    assert not same_person(a, b)
