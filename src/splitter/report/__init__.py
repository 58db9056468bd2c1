"""The campaign's story and pictures: one self-contained HTML file from a merged folder.

Takes what `merge` hands on (M/results.csv.zst or results.csv, M/report.json,
and the host folders' manifest.json and a rescue's partial report.json where
they are still at hand); hands on M/report.html: summary, the campaign's
story (runs, lost hosts and their rescue, pauses), utilisation, timeline,
throughput, declared vs observed capacity, durations, the result values,
failures by type and message, the slowest jobs, versions.

    reading, bounded and checked: sources (report.json, manifests; where to write),
        schema / hosts / checks (their fields typed), read / pieces / cells / sample /
        failures (the rows)
    pure figures: stats (rows), usage (run time, utilisation, capacity), story (runs,
        lost hosts, rescues)
    drawing (matplotlib, the optional `report` extra, imported only here): plots,
        timeline, resultplots
    HTML: html (escaping, tables), page, storypage, resultspage; build ties them together

Uses `merge`, `store` and `campaign`, never `run`.
"""
