"""Allow ``python -m netprobe``."""

try:
    if __name__ == "__main__":  # the program's entry: a signal is noted even while the CLI's modules load
        from netprobe.signals import catch_signals

        catch_signals()
    from netprobe.cli import main
except (KeyboardInterrupt, RuntimeError) as exc:  # Ctrl-C while Python still loads the CLI: nothing has started
    from netprobe.signals import exit_interrupted, is_interrupt

    if not is_interrupt(exc):
        raise
    exit_interrupted()

if __name__ == "__main__":
    main()
