"""Typed 835 parse with linuxforhealth-x12 (pydantic 1): reads every transaction model of the
file given and prints how many it read, or the first error. Used by ../bench-x12-peers.sh."""
import sys

from linuxforhealth.x12.io import X12ModelReader

models = 0
with X12ModelReader(sys.argv[1]) as reader:
    for model in reader.models():
        models += 1
print(f"linuxforhealth-x12: {models} transaction model(s)", file=sys.stderr)
sys.exit(0 if models else 1)
