"""Pure cryptography: no I/O, no AWS, no clock. Keys come in as arguments."""
