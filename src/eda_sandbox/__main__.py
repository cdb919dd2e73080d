import sys

from eda_sandbox.cli import main

sys.exit(main())
