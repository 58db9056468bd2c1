# ruff: noqa: F821
# (Analysis, PYZ, EXE and workpath are globals PyInstaller gives a spec.)
"""PyInstaller spec of a splitter one-file binary, run by build_exe.py (`make exe`).

build_exe.py copies it to WORK/NAME/splitter.spec (PyInstaller wants that
suffix, and *.spec files are ignored by git) and runs it with its options
after `--`:

    python -m PyInstaller WORK/NAME/splitter.spec --distpath D --workpath W \\
        -- --packaging DIR --entry E --name N --bundle B

It differs from `pyinstaller --onefile` in two ways: shared libraries are
stripped one by one where that is safe (build_exe.strip_binaries), instead of
PyInstaller's --strip, which breaks NumPy's OpenBLAS; and they are stored
uncompressed (build_exe.COMPRESSION), so unpacking them at start is a copy.
"""

import sys
from pathlib import Path

from PyInstaller.utils.hooks import collect_submodules

sys.path.insert(0, sys.argv[sys.argv.index("--packaging") + 1])
import build_exe

options = build_exe.spec_options(sys.argv[1:])

a = Analysis(
    [str(options.entry)],
    pathex=[str(build_exe.ROOT / "src")],
    datas=build_exe.bundle_datas(options.bundle),
    hiddenimports=collect_submodules("splitter"),
    excludes=list(build_exe.EXCLUDED),
    noarchive=False,
)
pyz = PYZ(a.pure)
exe = EXE(
    pyz,
    a.scripts,
    build_exe.strip_binaries(a.binaries, Path(workpath) / "stripped"),
    a.datas,
    [],
    name=options.name,
    debug=False,
    strip=False,
    upx=False,
    console=True,
    runtime_tmpdir=None,
    cdict=build_exe.COMPRESSION,
)
