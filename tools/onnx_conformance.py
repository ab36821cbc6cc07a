"""ONNX backend conformance of fathom.onnx: run every node case onnx builds in memory.

Runs each case of `onnx.backend.test` (kind 'node') the way `BackendTest` does
(`Backend.prepare(model).run(inputs)`, outputs compared at the case's rtol/atol), counts
passes per op, and writes the table (and the list of native ops) between the markers in
docs/onnx.md.

    python tools/onnx_conformance.py                 # table to docs/onnx.md
    python tools/onnx_conformance.py --failures      # also print each failure's reason
    python tools/onnx_conformance.py --no-write      # print only
    python tools/onnx_conformance.py --check         # compare with the skip lists of
                                                     # tests/test_onnx_backend.py

A case belongs to the op it tests: the op whose name starts the case name ('test_reduce_
sum_keepdims' -> ReduceSum); an '_expanded' case (the op's function body) belongs to the op
of its plain twin. "Implemented" means the op is in fathom.onnx.importer.OPS.
"""
from __future__ import annotations

import argparse
import collections
import os
import re
import sys
import textwrap
import time
import warnings

import numpy as np

BEGIN = "<!-- conformance:begin -->"
END = "<!-- conformance:end -->"
OPS_BEGIN = "<!-- ops:begin -->"
OPS_END = "<!-- ops:end -->"
DOC = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "docs",
                   "onnx.md")


def node_cases():
    """onnx's node test cases (built in memory, no download)."""
    from onnx.backend.test.loader import load_model_tests
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return load_model_tests(kind="node")


def case_op(case, by_name) -> str:
    """The op a case tests (see the module docstring)."""
    base = re.sub(r"_expanded.*$", "", case.name)
    twin = by_name.get(base, case)
    ops = [n.op_type for n in twin.model.graph.node]
    key = base[len("test_"):].replace("_", "").lower()
    named = [op for op in set(ops) if key.startswith(op.lower())]
    if named:
        return max(named, key=len)
    return ops[-1] if ops else "?"


def run_case(backend, case):
    """None when the case passes, else a one-line reason."""
    from onnx import numpy_helper
    from onnx.backend.test.runner import Runner
    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            rep = backend.prepare(case.model, "CPU")
            for inputs, refs in case.data_sets:
                norm = [numpy_helper.to_array(t) if hasattr(t, "raw_data") else t
                        for t in inputs]
                refs = [numpy_helper.to_array(t) if hasattr(t, "raw_data") else t
                        for t in refs]
                out = rep.run(norm)
                Runner.assert_similar_outputs(refs, out, rtol=case.rtol, atol=case.atol)
    except Exception as e:  # noqa: BLE001 - any failure is a failed case, with its reason
        first = str(e).strip().splitlines()
        return f"{type(e).__name__}: {first[0][:200] if first else ''}"
    return None


def conformance():
    """{op: [(case name, reason or None)]}, and the set of implemented ops."""
    from fathom.onnx.backend import Backend
    from fathom.onnx.importer import OPS
    cases = node_cases()
    by_name = {c.name: c for c in cases}
    results = collections.defaultdict(list)
    for case in cases:
        results[case_op(case, by_name)].append((case.name, run_case(Backend, case)))
    return results, set(OPS)


def _has_body(op) -> bool:
    """Whether the latest ONNX schema of `op` defines a function body fathom.onnx inlines."""
    import onnx.defs
    try:
        schema = onnx.defs.get_schema(op)
    except onnx.defs.SchemaError:
        return False
    return bool(schema.has_function or schema.has_context_dependent_function)


def _totals(results, ops):
    cases = [r for op in ops for _, r in results[op]]
    return sum(r is None for r in cases), len(cases)


def _pct(p, n) -> str:
    return f"{p} / {n} ({100.0 * p / max(n, 1):.1f}%)"


def table(results, implemented) -> str:
    native = sorted(op for op in results if op in implemented)
    body = sorted(op for op in results if op not in implemented and _has_body(op))
    missing = sorted(op for op in results if op not in implemented and op not in body)
    rows = [f"| {op} | {_totals(results, [op])[0]} / {len(results[op])} |"
            for op in native]
    body_rows = [f"| {op} | {_totals(results, [op])[0]} / {len(results[op])} |"
                 for op in body]
    dtype_fails = sum(1 for op in native for _, r in results[op]
                      if r is not None and re.search(r"dtype \S+ is not supported", r))
    passed, total = _totals(results, native)
    lines = [
        f"- **Ops Fathom implements ({len(native)}): {_pct(passed, total)} "
        "node cases pass.** Of the other cases, "
        f"{dtype_fails} use dtypes Fathom does not have (uint16/32/64, bfloat16, float8, "
        "4- and 2-bit types, strings).",
        f"- Those and the ops run through their ONNX function body ({len(body)}): "
        f"{_pct(*_totals(results, native + body))}.",
        f"- All node cases ({len(results)} ops): {_pct(*_totals(results, list(results)))}.",
        "",
        "| op (implemented in fathom.onnx) | cases passed |",
        "| --- | --- |",
        *rows,
        "",
        "| op (run through its ONNX function body) | cases passed |",
        "| --- | --- |",
        *body_rows,
        "",
        f"Ops with node cases that fathom.onnx does not run ({len(missing)}): "
        + ", ".join(missing) + ".",
    ]
    return "\n".join(lines)


def ops_paragraph(implemented) -> str:
    return textwrap.fill("Native implementations (`fathom.onnx.importer.OPS`): "
                         + ", ".join(sorted(implemented)) + ".", 90)


def _replace(doc, begin, end, text, path):
    if begin not in doc or end not in doc:
        raise SystemExit(f"{path}: markers {begin} / {end} not found")
    head, rest = doc.split(begin, 1)
    return f"{head}{begin}\n{text}\n{end}{rest.split(end, 1)[1]}"


def write_doc(text: str, implemented, path: str = DOC) -> None:
    """The conformance table and the list of native ops, between their markers."""
    doc = open(path).read()
    doc = _replace(doc, BEGIN, END, text, path)
    doc = _replace(doc, OPS_BEGIN, OPS_END, ops_paragraph(implemented), path)
    with open(path, "w") as f:
        f.write(doc)


def check_exclusions(results) -> int:
    """Print failures that tests/test_onnx_backend.py does not skip (they make the suite
    fail) and skipped cases that pass (stale entries). Returns the number of problems."""
    import importlib.util
    path = os.path.join(os.path.dirname(DOC), "..", "tests", "test_onnx_backend.py")
    spec = importlib.util.spec_from_file_location("_onnx_backend_lists", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    patterns = list(mod.UNSUPPORTED_OPS) + list(mod.KNOWN_FAILURES)
    problems = 0
    for op in sorted(results):
        for name, reason in results[op]:
            hit = [p for p in patterns if re.search(p, name + "_cpu")]
            if reason is not None and not hit:
                problems += 1
                print(f"NOT SKIPPED {op} {name}: {reason}")
            elif reason is None and hit:
                problems += 1
                print(f"STALE SKIP  {op} {name} passes but matches {hit}")
    print(f"{problems} problem(s)")
    return problems


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--failures", action="store_true", help="print each failing case")
    p.add_argument("--no-write", action="store_true", help="do not update docs/onnx.md")
    p.add_argument("--check", action="store_true",
                   help="check the skip lists of tests/test_onnx_backend.py (implies --no-write)")
    args = p.parse_args(argv)
    t0 = time.perf_counter()
    results, implemented = conformance()
    text = table(results, implemented)
    print(text)
    print(f"\n({time.perf_counter() - t0:.1f} s)")
    if args.failures:
        for op in sorted(results):
            for name, reason in results[op]:
                if reason is not None:
                    mark = "impl" if op in implemented else "----"
                    print(f"{mark} {op} {name}: {reason}")
    if args.check:
        return 1 if check_exclusions(results) else 0
    if not args.no_write:
        write_doc(text, implemented)
    return 0


if __name__ == "__main__":
    sys.exit(main())
