"""The flows of the service. They see domain objects and stores, never HTTP or items."""
