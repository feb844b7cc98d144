import sys

from securelogin_backoffice.cli import main

sys.exit(main())
