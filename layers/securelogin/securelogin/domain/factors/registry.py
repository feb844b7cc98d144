"""The registry that picks a device type's factor."""
from __future__ import annotations

from securelogin.domain.factors.base import Factor
from securelogin.domain.models import DeviceType


class FactorRegistry:
    """The explicit list of factors the service knows, by device type."""

    def __init__(self, factors: list[Factor]) -> None:
        self._by_type: dict[DeviceType, Factor] = {}
        for factor in factors:
            if factor.device_type in self._by_type:
                raise ValueError(f"two factors for {factor.device_type}")
            self._by_type[factor.device_type] = factor

    def for_type(self, device_type: DeviceType) -> Factor:
        try:
            return self._by_type[device_type]
        except KeyError:
            raise LookupError(f"no factor for device type {device_type}") from None

    def types(self) -> frozenset[DeviceType]:
        return frozenset(self._by_type)
