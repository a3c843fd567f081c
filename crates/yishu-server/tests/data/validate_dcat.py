"""Parses DCAT files with rdflib and validates them with pyshacl against the DCAT-AP 3 shapes.

usage: validate_dcat.py SHAPES FILE:FORMAT ...   (FORMAT: turtle, json-ld, xml)
Prints one JSON line per file: triples, datasets, distributions, conforms, and the report.
"""
import json
import sys

import pyshacl
from rdflib import Graph, Namespace, RDF

DCAT = Namespace("http://www.w3.org/ns/dcat#")

shapes = Graph().parse(sys.argv[1], format="turtle")
for arg in sys.argv[2:]:
    path, fmt = arg.rsplit(":", 1)
    g = Graph().parse(path, format=fmt)
    conforms, _, report = pyshacl.validate(g, shacl_graph=shapes, inference="none")
    print(json.dumps({
        "file": path,
        "triples": len(g),
        "datasets": len(set(g.subjects(RDF.type, DCAT.Dataset))),
        "distributions": len(set(g.subjects(RDF.type, DCAT.Distribution))),
        "conforms": bool(conforms),
        "report": report if not conforms else "",
    }, ensure_ascii=False))
