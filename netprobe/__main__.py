"""Allow ``python -m netprobe``."""

try:
    from netprobe.cli import main
except (KeyboardInterrupt, RuntimeError) as exc:  # Ctrl-C while Python still loads the CLI: nothing has started
    from netprobe.signals import exit_interrupted, is_interrupt

    if not is_interrupt(exc):
        raise
    exit_interrupted()

if __name__ == "__main__":
    main()
