"""The generic binary's entry (`make exe` with no ENTRY): the `splitter` console script.

Frozen, it runs task files (`splitter run --tasks FILE`), plan, digest, status,
merge and init with no Python on the host. A worker process of the binary
starts here too and leaves inside ``console_main`` (``freeze_support``).
"""

from splitter.cli import console_main

if __name__ == "__main__":
    console_main()
