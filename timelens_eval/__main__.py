import sys

from timelens_eval.cli import main

sys.exit(main())
