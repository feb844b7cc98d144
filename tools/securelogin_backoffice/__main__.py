"""``python -m securelogin_backoffice``: the back office's command line."""
import sys

from securelogin_backoffice.cli import main

sys.exit(main())
