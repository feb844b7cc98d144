"""The service's logger (structured JSON). Events are never logged: they carry secrets."""
from aws_lambda_powertools import Logger

logger = Logger(service="securelogin")
