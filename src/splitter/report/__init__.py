"""The campaign's pictures: one self-contained HTML file from a merged folder.

Takes what `merge` hands on (M/results.csv.zst or results.csv, M/report.json,
and the host folders' manifest.json where they are still at hand); hands on
M/report.html: summary, per-host timeline, throughput, declared vs observed
capacity, job durations, failures and the slowest jobs. `read` streams the
rows into columns, `stats` turns them into plain figures, `plots` draws them
with matplotlib (the optional `report` extra, imported only here), `page`
writes the HTML and `build` ties them together. Uses `merge`, `store` and
`campaign`, never `run`.
"""
