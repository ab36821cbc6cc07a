"""`python -m fathom ...` runs the `fathom` command (see fathom.cli)."""
import sys

from fathom.cli import main

if __name__ == "__main__":
    sys.exit(main())
