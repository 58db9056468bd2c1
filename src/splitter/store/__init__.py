"""The files a run leaves on disk, each writer beside its reader.

Takes rows, log records and a host's counts; hands on the files of PRODUCT.md:
append-only zstd frames (`frames`), results.csv.zst and its row format
(`results`, `rowformat`), the kinds of its job columns (`celltypes`,
results.types.json in `typesfile`), log.zst (`logfile`), manifest.json (`manifest`), the
output folder a run resumes or refuses (`outdir`), a host folder as merge
and status read it (`hostfolder`), its lock (`lock`) and the owner's requests
to its run (`control`). It may use `campaign` (digests shown in
messages), never `run` or `merge`.
"""
