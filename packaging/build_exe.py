"""Build an entry script into a one-file binary: what `make exe` runs.

    python packaging/build_exe.py ENTRY [--name NAME] [--configs DIR] [--dist DIR] [--work DIR]

    ENTRY --PyInstaller, splitter_spec.py--> DIST/NAME   (bootloader + Python + NumPy + zstandard)
                   ^
      WORK/NAME/bundle/        staged here; unpacked at every start into $TMPDIR/_MEI.../
          splitter_bundle          marker: how splitter.frozen tells our unpack folders apart
          splitter_configs/        machines.json, splitter.ini from --configs (optional)

Everything PyInstaller writes besides the binary (work files, stripped
libraries) stays under WORK/NAME, never in the repository root. The binary
must start (`NAME --version`) before this reports success.
"""

from __future__ import annotations

import argparse
import importlib.util
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from splitter.campaign.config import CONFIG_FILE, load_config
from splitter.campaign.load import EMBEDDED_CONFIGS
from splitter.campaign.machines import MACHINES_FILE, load_machines
from splitter.errors import SplitterError
from splitter.frozen import MARKER, MARKER_TEXT

ROOT = Path(__file__).resolve().parent.parent
PACKAGING = Path(__file__).resolve().parent
SPEC = PACKAGING / "splitter_spec.py"

# Left out of every binary. zstandard's cffi backend is only a fallback for
# its C backend and needs cffi, which is not installed: 12 MB unpacked on every
# start for nothing. The optional extras (Dask for --dask, matplotlib for
# report, pandas and pyarrow for read_results and merge --parquet) would be
# reached through splitter's own modules and take the binary from 63 to 105 MiB
# and its start from 0.3 to 0.7 s (Dask and matplotlib alone); without them,
# --dask, report and --parquet say how to get them, and --help marks them. The
# rest are only reached through optional imports (test runners, GUIs, docs) and
# never load at start: they only make the file bigger.
EXCLUDED = (
    "zstandard.backend_cffi",
    "zstandard._cffi",
    "dask",
    "distributed",
    "matplotlib",
    "pandas",
    "pyarrow",
    "tkinter",
    "unittest",
    "doctest",
    "pydoc",
    "pydoc_data",
    "pdb",
    "lib2to3",
    "idlelib",
    "ensurepip",
    "venv",
    "numpy.f2py",
    "numpy.testing",
    "numpy.distutils",
)


# What the bootloader must decompress at every start (PyInstaller's cdict).
# Shared libraries and extensions are stored as they are: unpacking them is
# then a plain copy. Measured with `digest` (bench/bench_exe.py): 0.46 s
# instead of 0.74 s per start, for a 63 MiB file instead of 23 MiB. Modules
# stay compressed: PYZ is read lazily, module by module.
COMPRESSION = {
    "EXTENSION": False,
    "BINARY": False,
    "EXECUTABLE": False,
    "DATA": True,
    "PYSOURCE": True,
    "PYMODULE": True,
    "SPLASH": True,
    "PYZ": False,
    "SYMLINK": False,
}


@dataclass(frozen=True)
class SpecOptions:
    """What the spec (splitter_spec.py) is told after ``--``."""

    entry: Path
    name: str
    bundle: Path


def spec_options(argv: Sequence[str]) -> SpecOptions:
    """Parse the options build() passes to the spec."""
    parser = argparse.ArgumentParser(prog="splitter.spec")
    parser.add_argument("--packaging", type=Path, required=True)
    parser.add_argument("--entry", type=Path, required=True)
    parser.add_argument("--name", required=True)
    parser.add_argument("--bundle", type=Path, required=True)
    args = parser.parse_args(argv)
    return SpecOptions(args.entry, args.name, args.bundle)


def bundle_datas(bundle: Path) -> list[tuple[str, str]]:
    """The staged files as PyInstaller data: the marker, and the configs if staged."""
    datas = [(str(bundle / MARKER), ".")]
    if (bundle / EMBEDDED_CONFIGS).is_dir():
        datas.append((str(bundle / EMBEDDED_CONFIGS), EMBEDDED_CONFIGS))
    return datas


def stage_bundle(bundle: Path, configs: Path | None) -> None:
    """Write the marker and copy the configs (validated first) into ``bundle``."""
    if bundle.exists():
        shutil.rmtree(bundle)
    bundle.mkdir(parents=True)
    (bundle / MARKER).write_text(MARKER_TEXT, encoding="utf-8")
    if configs is None:
        return
    load_machines(configs / MACHINES_FILE)
    load_config(configs / CONFIG_FILE)
    target = bundle / EMBEDDED_CONFIGS
    target.mkdir()
    shutil.copy2(configs / MACHINES_FILE, target / MACHINES_FILE)
    if (configs / CONFIG_FILE).is_file():
        shutil.copy2(configs / CONFIG_FILE, target / CONFIG_FILE)


def strippable(path: Path) -> bool:
    """Whether dropping the symbol table of this shared library is safe.

    Not for libraries that auditwheel (patchelf) grafted or rewired: those in
    a ``*.libs`` folder or with an ``$ORIGIN`` RPATH/RUNPATH. Stripping NumPy's
    OpenBLAS makes it unloadable ("ELF load command address/offset not
    page-aligned"). An absolute RUNPATH (a pyenv libpython's) is the linker's.
    """
    if path.parent.name.endswith(".libs") or shutil.which("readelf") is None:
        return False
    dynamic = subprocess.run(["readelf", "-d", str(path)], capture_output=True, text=True)
    return dynamic.returncode == 0 and "$ORIGIN" not in dynamic.stdout


def strip_binaries(
    binaries: Sequence[tuple[str, str, str]], folder: Path
) -> list[tuple[str, ...]]:
    """PyInstaller's binaries, each strippable one replaced by a stripped copy in ``folder``."""
    if sys.platform != "linux" or shutil.which("strip") is None:
        return list(binaries)
    result: list[tuple[str, ...]] = []
    for name, source, kind in binaries:
        target = folder / name
        if not strippable(Path(source)):
            result.append((name, source, kind))
            continue
        if not target.exists() or target.stat().st_mtime < Path(source).stat().st_mtime:
            target.parent.mkdir(parents=True, exist_ok=True)
            subprocess.run(["strip", "-o", str(target), source], check=True)
        result.append((name, str(target), kind))
    return result


def glibc_needed(binary: Path) -> str | None:
    """The newest glibc symbol version the binary or a library in it asks for, e.g. "2.36".

    The binary runs on systems with this glibc or a newer one. None off Linux.
    """
    if sys.platform != "linux":
        return None
    from PyInstaller.archive.readers import CArchiveReader

    blobs = [binary.read_bytes()]  # The bootloader, and every library stored uncompressed.
    archive = CArchiveReader(str(binary))
    for name, entry in archive.toc.items():
        if entry[-1] == "b" and entry[3]:  # A compressed library: read it unpacked.
            blobs.append(archive.extract(name))
    found = {
        (int(major), int(minor))
        for blob in blobs
        for major, minor in re.findall(rb"GLIBC_(\d+)\.(\d+)", blob)
    }
    return "{}.{}".format(*max(found)) if found else None


def build(entry: Path, name: str, dist: Path, work: Path, configs: Path | None) -> Path:
    """Build ``dist/name`` from ``entry``; return the binary's path."""
    if not entry.is_file():
        raise SplitterError(f"ENTRY {entry} is not a file; pass ENTRY=path/to/entry.py")
    if configs is not None and not configs.is_dir():
        raise SplitterError(f"CONFIGS {configs} is not a folder holding {MACHINES_FILE}")
    if importlib.util.find_spec("PyInstaller") is None:
        raise SplitterError(
            f"PyInstaller is not installed in {sys.prefix}; install the exe extra: "
            "pip install -e '.[exe]' (make setup does)"
        )
    work = work.resolve() / name
    stage_bundle(work / "bundle", configs)
    spec = work / "splitter.spec"
    shutil.copy2(SPEC, spec)
    pyinstaller = [
        sys.executable, "-m", "PyInstaller", str(spec), "--noconfirm", "--log-level", "WARN",
        "--distpath", str(dist.resolve()), "--workpath", str(work), "--",
        "--packaging", str(PACKAGING), "--entry", str(entry.resolve()), "--name", name,
        "--bundle", str(work / "bundle"),
    ]  # fmt: skip
    subprocess.run(pyinstaller, check=True)
    binary = dist / (f"{name}.exe" if sys.platform == "win32" else name)
    started = subprocess.run([str(binary), "--version"], capture_output=True, text=True)
    if started.returncode != 0:
        raise SplitterError(f"{binary} was built but does not start:\n{started.stderr.strip()}")
    return binary


def main(argv: Sequence[str] | None = None) -> int:
    """Build the binary; say where it is and how big, or why it failed."""
    parser = argparse.ArgumentParser(description="Build an entry script into a one-file binary.")
    parser.add_argument("entry", type=Path, help="the entry script (calls splitter.main)")
    parser.add_argument("--name", help="the binary's name (default: the entry's file stem)")
    parser.add_argument("--configs", type=Path, metavar="DIR", help="configs to embed")
    parser.add_argument("--dist", type=Path, default=Path("dist"), metavar="DIR")
    parser.add_argument("--work", type=Path, default=Path("build/exe"), metavar="DIR")
    args = parser.parse_args(argv)
    began = time.monotonic()
    try:
        binary = build(
            args.entry, args.name or args.entry.stem, args.dist, args.work, args.configs
        )
    except SplitterError as exc:
        print(f"build_exe: error: {exc}", file=sys.stderr)
        return 2
    except subprocess.CalledProcessError as exc:
        print(
            f"build_exe: error: {exc.cmd[0]} failed (exit code {exc.returncode})", file=sys.stderr
        )
        return 1
    size = binary.stat().st_size / 2**20
    embedded = f", configs from {args.configs} embedded" if args.configs else ""
    print(f"built {binary} ({size:.1f} MiB{embedded}) in {time.monotonic() - began:.0f} s")
    glibc = glibc_needed(binary)
    if glibc:
        print(f"it runs where glibc is {glibc} or newer; build on an older system to reach more")
    return 0


if __name__ == "__main__":
    sys.exit(main())
