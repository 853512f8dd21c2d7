"""Start Network Designer: ``python main.py`` opens the window; ``python main.py --help`` lists commands."""

import signal
import sys

if __name__ == "__main__":
    try:
        from designer.cli import main

        status = main()
    except KeyboardInterrupt:  # Ctrl+C while the program itself loads: an exit status, no traceback
        status = 130
    # Python puts the signal's default action back for its last moments, so a Ctrl+C while it
    # shuts down would end the process by the signal: the work is done, ignore it.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    sys.exit(status)
