import sys

from infoscrub.cli import main

sys.exit(main())
