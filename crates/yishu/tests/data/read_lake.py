"""Reads every Delta table of a Yishu lake with other engines, as an analyst would.

usage: read_lake.py LAKE_ROOT OUT_DIR

For each table under ods/, std/ and base/ it writes what `deltalake` (its DataFusion query
path, which applies deletion vectors) and `polars` (`read_delta`) return as Parquet files
OUT_DIR/deltalake/<layer>.<table>.parquet and OUT_DIR/polars/<layer>.<table>.parquet, and
prints a JSON list of the tables with each engine's row count the table's version and the rows its live files hold before deletion vectors.
"""
import json
import os
import sys

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
from deltalake import DeltaTable, QueryBuilder

root, out = sys.argv[1], sys.argv[2]
for engine in ("deltalake", "polars"):
    os.makedirs(os.path.join(out, engine), exist_ok=True)
tables = []
for layer in ("ods", "std", "base"):
    d = os.path.join(root, layer)
    if not os.path.isdir(d):
        continue
    for name in sorted(os.listdir(d)):
        path = os.path.join(d, name)
        if not os.path.isdir(os.path.join(path, "_delta_log")):
            continue
        dt = DeltaTable(path)
        read = QueryBuilder().register("t", dt).execute("SELECT * FROM t").read_all()
        table = pa.table(read)
        pq.write_table(table, os.path.join(out, "deltalake", f"{layer}.{name}.parquet"))
        frame = pl.read_delta(path)
        frame.write_parquet(os.path.join(out, "polars", f"{layer}.{name}.parquet"))
        # Rows in the table's live files before deletion vectors hide any.
        adds = pa.table(dt.get_add_actions(flatten=True))
        file_rows = sum(n or 0 for n in adds.column("num_records").to_pylist())
        tables.append(
            {
                "layer": layer,
                "table": name,
                "version": dt.version(),
                "deletion_vectors": "deletionVectors" in (dt.protocol().reader_features or []),
                "deltalake": table.num_rows,
                "polars": frame.height,
                "file_rows": file_rows,
            }
        )
print(json.dumps(tables, ensure_ascii=False))
