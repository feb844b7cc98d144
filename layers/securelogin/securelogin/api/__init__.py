"""HTTP: request schemas, response views, the resolver and the one error-to-status map."""
