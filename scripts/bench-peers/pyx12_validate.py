"""Validates an X12 file with pyx12 4.x (x12n_document as a library: a real exit status, no
acknowledgment file written). Used by ../bench-x12-peers.sh."""
import sys

import pyx12.params
import pyx12.x12n_document

params = pyx12.params.params()
# No 999 and no HTML report: validation only (pyx12 4.x fails building a 999 for an 835).
ok = pyx12.x12n_document.x12n_document(param=params, src_file=sys.argv[1], fd_997=None, fd_html=None)
print("pyx12: valid" if ok else "pyx12: reported errors", file=sys.stderr)
sys.exit(0 if ok else 1)
