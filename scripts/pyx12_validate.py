#!/usr/bin/env python3
"""Validate X12 files with pyx12, used as a library.

Usage: pyx12_validate.py FILE...

Prints one line per file, `FILE: OK` or `FILE: ERRORS`, followed by one indented line per
problem (segment id, segment number, element position, code and message). Exits 0 when every
file is valid, 1 when any file has errors, 2 when pyx12 cannot run at all.

Calling `pyx12.x12n_document.x12n_document` directly (instead of the `x12valid` script) gives a
real exit status and writes no acknowledgment file next to the input.
"""

from __future__ import annotations

import io
import json
import logging
import sys


class _Collect(logging.Handler):
    """Keeps pyx12's own error log lines (map not found, unreadable file) as problems."""

    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def _problems(doc: dict) -> list[str]:
    out: list[str] = []

    def node_errors(where: str, node: dict) -> None:
        for err in node.get("errors", []):
            out.append(f"{where}: {err.get('err_cde')} {err.get('err_str')}")

    for isa in doc.get("interchanges", []):
        node_errors("ISA", isa)
        for gs in isa.get("groups", []):
            node_errors(f"GS {gs.get('gs_control_num')}", gs)
            for st in gs.get("transactions", []):
                node_errors(f"ST {st.get('trn_set_control_num')}", st)
                for seg in st.get("segments", []):
                    where = f"segment {seg.get('seg_id')} #{seg.get('seg_count')} line {seg.get('cur_line')}"
                    for err in seg.get("errors", []):
                        out.append(f"{where}: {err.get('err_cde')} {err.get('err_str')} [{err.get('err_val')}]")
                    for ele in seg.get("elements", []):
                        pos = f"{seg.get('seg_id')}{int(ele.get('ele_pos') or 0):02d}"
                        if ele.get("subele_pos"):
                            pos += f"-{ele.get('subele_pos')}"
                        for err in ele.get("errors", []):
                            out.append(
                                f"{where} element {pos}: {err.get('err_cde')} {err.get('err_str')} [{err.get('err_val')}]"
                            )
    return out


def validate(path: str) -> tuple[bool, list[str]]:
    import pyx12.params
    import pyx12.x12n_document

    collector = _Collect()
    logger = logging.getLogger("pyx12")
    logger.addHandler(collector)
    logger.propagate = False
    try:
        try:
            with open(path, "rb") as handle:
                head = handle.read(3)
        except OSError as error:
            return False, [f"cannot read the file: {error}"]
        if head == b"\xef\xbb\xbf":
            return False, ["file starts with a UTF-8 byte order mark"]
        param = pyx12.params.params()
        errors_json = io.StringIO()
        fd_999 = io.StringIO()
        try:
            ok = pyx12.x12n_document.x12n_document(
                param=param, src_file=path, fd_997=fd_999, fd_html=None, fd_xmldoc=None, fd_json=errors_json
            )
        except Exception as error:  # pyx12 raises EngineError for a missing map and more
            return False, [f"pyx12 raised {type(error).__name__}: {error}"] + collector.messages
        text = errors_json.getvalue()
        problems = _problems(json.loads(text)) if text else []
        # pyx12 logs the same errors it reports; its log matters only when the report is empty.
        if not problems:
            problems = [message for message in collector.messages if "999 response" not in message]
        if not ok and not problems:
            problems.append("pyx12 reported the file invalid without details")
        return ok and not problems, problems
    finally:
        logger.removeHandler(collector)


def main(argv: list[str]) -> int:
    if not argv:
        sys.stderr.write((__doc__ or "").lstrip())
        return 2
    try:
        import pyx12  # noqa: F401
    except ImportError as error:
        sys.stderr.write(f"pyx12 is not installed: {error}\n")
        return 2
    all_ok = True
    for path in argv:
        ok, problems = validate(path)
        all_ok &= ok
        print(f"{path}: {'OK' if ok else 'ERRORS'}")
        for problem in problems:
            print(f"  {problem}")
    sys.stdout.flush()
    return 0 if all_ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
