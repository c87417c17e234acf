"""Allow ``python -m netprobe``."""

try:
    from netprobe.cli import main
except KeyboardInterrupt:  # Ctrl-C while Python still loads the CLI: nothing has started, nothing to report
    from netprobe.signals import exit_interrupted

    exit_interrupted()

if __name__ == "__main__":
    main()
