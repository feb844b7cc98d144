"""The flows of the service. They see domain objects and the ports (``securelogin.ports``),
never HTTP, table items or an adapter."""
