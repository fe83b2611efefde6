import sys

from omr_data.cli import main

sys.exit(main())
