"""Milvus backend, for shared and larger libraries: a Milvus server (standalone or cluster)
at an ``http(s)://host:port`` URI, or Milvus Lite (a local ``.db`` file, what the tests
run), through the same ``pymilvus.MilvusClient``.

Collections are named after the library's id (``clipcut_<id>_window`` and so on), so one
server holds many libraries. Milvus requires a vector in every collection: the catalog's is
a 2-d placeholder.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from ..errors import ClipcutError
from .store import TABLES, Hit, Recording, Store, chunks, table_dims

FILTER_CHUNK = 200      # paths per delete filter
INSERT_CHUNK = 5000     # rows per insert call (the server caps a request's size)
MAX_PATH = 4096
PAGE = 1000             # catalog rows per query
SEARCH_PARAMS = {"ef": 256, "nprobe": 32}


def _lit(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)  # double-quoted, backslash escapes


class MilvusStore(Store):
    def __init__(self, uri: str, dim: int, library_id: str):
        try:
            from pymilvus import DataType, MilvusClient
        except ImportError:  # pragma: no cover
            raise ClipcutError("pymilvus is not installed: `pip install pymilvus`") from None
        self.uri = uri
        token = os.environ.get("CLIPCUT_MILVUS_TOKEN", "")
        try:
            self.client = MilvusClient(uri=uri, token=token, timeout=10)
        except Exception as exc:  # the client raises several kinds for a bad address
            raise ClipcutError(f"cannot reach the Milvus library at {uri} "
                               f"({exc.__class__.__name__}); check the address, that the server "
                               "runs, and CLIPCUT_MILVUS_TOKEN") from None
        self.names = {t: f"clipcut_{library_id}_{t}" for t in TABLES + ("recordings",)}
        for table, table_dim in table_dims(dim).items():
            self._create(table, DataType, vector_dim=table_dim, rows=True)
        self._create("recordings", DataType, vector_dim=2, rows=False)

    def _create(self, table, DataType, vector_dim, rows):
        name = self.names[table]
        if self.client.has_collection(name):
            self.client.load_collection(name)
            return
        schema = self.client.create_schema(auto_id=rows, enable_dynamic_field=False)
        if rows:
            schema.add_field("id", DataType.INT64, is_primary=True)
            schema.add_field("path", DataType.VARCHAR, max_length=MAX_PATH)
        else:
            schema.add_field("path", DataType.VARCHAR, max_length=MAX_PATH, is_primary=True)
        schema.add_field("generation", DataType.VARCHAR, max_length=64)
        if rows:
            schema.add_field("start", DataType.DOUBLE)
            schema.add_field("end", DataType.DOUBLE)
        else:
            schema.add_field("source", DataType.VARCHAR, max_length=64)
            for f in ("duration", "created"):
                schema.add_field(f, DataType.DOUBLE)
            for f in ("windows", "sentences"):
                schema.add_field(f, DataType.INT64)
            schema.add_field("space", DataType.VARCHAR, max_length=16)
        schema.add_field("vector", DataType.FLOAT_VECTOR, dim=vector_dim)
        index = self.client.prepare_index_params()
        index.add_index(field_name="vector", index_type="AUTOINDEX", metric_type="COSINE")
        self.client.create_collection(name, schema=schema, index_params=index)

    def insert(self, table, batch):
        rows = [{"path": p, "generation": g, "start": float(s), "end": float(e),
                 "vector": v.astype(np.float32)}
                for p, g, r in batch for s, e, v in zip(r.start, r.end, r.vectors)]
        for part in chunks(rows, INSERT_CHUNK):
            self.client.insert(self.names[table], part)

    def delete(self, table, keep):
        for part in chunks(sorted(keep.items()), FILTER_CHUNK):
            expr = " or ".join(f"(path == {_lit(p)}" + (f" and generation != {_lit(g)})" if g else ")")
                               for p, g in part)
            self.client.delete(self.names[table], filter=expr)

    def put_recordings(self, recs):
        rows = [{**r.as_row(), "vector": [0.0, 1.0]} for r in recs]
        for part in chunks(rows, INSERT_CHUNK):
            self.client.upsert(self.names["recordings"], part)

    def drop_recordings(self, paths):
        for part in chunks(sorted(paths), FILTER_CHUNK):
            self.client.delete(self.names["recordings"],
                               filter=f"path in [{', '.join(map(_lit, part))}]")

    def recordings(self):
        # paged by primary key (results come back in its order); pymilvus's own iterator
        # splices the last key into its filter unescaped, which breaks on a quote in a path
        fields = ["path", "generation", "source", "duration", "created", "windows", "sentences",
                  "space"]
        out: dict[str, Recording] = {}
        last = None
        while True:
            expr = f"path > {_lit(last)}" if last is not None else ""
            page = self.client.query(self.names["recordings"], filter=expr, output_fields=fields,
                                     limit=PAGE)
            for row in page:
                out[row["path"]] = Recording.from_row(row)
            if len(page) < PAGE:
                return out
            last = max(row["path"] for row in page)

    def search(self, table, vector, k, paths=None, exact=False):
        kwargs = {}
        if paths is not None:
            if not paths:
                return []
            kwargs["filter"] = f"path in [{', '.join(map(_lit, paths))}]"
        res = self.client.search(self.names[table], data=[np.asarray(vector, np.float32)],
                                 limit=k, output_fields=["path", "generation", "start", "end"],
                                 search_params={"params": SEARCH_PARAMS}, **kwargs)
        return [Hit(h["entity"]["path"], h["entity"]["generation"], h["entity"]["start"],
                     h["entity"]["end"], float(h["distance"])) for h in res[0]]

    def rows(self, table):
        res = self.client.query(self.names[table], filter="", output_fields=["count(*)"])
        return int(res[0]["count(*)"])

    def size_bytes(self):
        # Milvus Lite keeps everything under its local .db folder; a server does not say
        local = Path(self.uri)
        if local.is_dir():
            return sum(f.stat().st_size for f in local.rglob("*") if f.is_file())
        return local.stat().st_size if local.is_file() else 0

    def close(self):
        self.client.close()
