"""``python -m splitter``: the console script (also the generic binary's entry, ``make exe``)."""

from splitter.cli import console_main

# A spawned worker imports this module as __mp_main__: only the real start runs the CLI.
if __name__ == "__main__":
    console_main()
