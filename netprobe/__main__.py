"""Allow ``python -m netprobe``."""

from netprobe.cli import main

if __name__ == "__main__":
    main()
