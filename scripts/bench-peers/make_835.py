"""Builds the large 835 the benchmarks use: the fixture's claim loops (LX ... before PLB)
repeated, LX01 numbered on, until the file holds at least SEGMENTS segments; BPR02 and SE01
fixed so it still validates and balances (protocol/benches/x12.rs builds the same file but
repeats LX*1, which our reader accepts and linuxforhealth-x12 does not).

    make_835.py FIXTURE SEGMENTS OUT [--without-per]

--without-per drops the payer loop's PER segment: linuxforhealth-x12 refuses a PER there
(its 1000A model has no list for it), so it reads this twin instead. Prints the segment count.
"""
import sys

fixture, target, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
without_per = "--without-per" in sys.argv[4:]
lines = open(fixture).read().splitlines()
if without_per:
    lines = [line for line in lines if not line.startswith("PER*")]
lx = next(i for i, line in enumerate(lines) if line.startswith("LX*"))
plb = next(i for i, line in enumerate(lines) if line.startswith("PLB*"))
se = next(i for i, line in enumerate(lines) if line.startswith("SE*"))
st = next(i for i, line in enumerate(lines) if line.startswith("ST*"))
block = lines[lx:plb]
repeats = -(-target // len(block))
# The fixture's block pays 180.00 and its PLB nets 50.00.
payment = f"{180 * repeats - 50}.00"
with open(out, "w") as f:
    for line in lines[:lx]:
        f.write(line.replace("BPR*I*130.00", f"BPR*I*{payment}", 1) + "\n")
    # LX01 numbers the claim groups: 1, 2, 3, ... (linuxforhealth-x12 refuses duplicates).
    chunk = "\n".join(block[1:]) + "\n"
    for number in range(1, repeats + 1):
        f.write(f"LX*{number}~\n")
        f.write(chunk)
    for line in lines[plb:se]:
        f.write(line + "\n")
    f.write(f"SE*{(lx - st) + repeats * len(block) + (se - plb) + 1}*0001~\n")
    for line in lines[se + 1:]:
        f.write(line + "\n")
print(len(lines) - len(block) + repeats * len(block))
