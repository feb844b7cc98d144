"""Back-office command line of the Secure Login System: the admin routes, SigV4-signed with the
operator's AWS credentials. ``python -m securelogin_backoffice --help``."""
