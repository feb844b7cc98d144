"""The catch-all route (``/{proxy+}``): any path no other function owns is not found."""
from __future__ import annotations

from securelogin.api.http import lambda_entry, make_resolver

app = make_resolver(unmatched="not_found")
lambda_handler = lambda_entry(app)
