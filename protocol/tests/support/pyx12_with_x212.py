#!/usr/bin/env python3
"""Run scripts/pyx12_validate.py with pyx12's own 277 X212 map, repaired and switched on.

pyx12 4 ships `277.5010.X212.xml` but leaves it out of `maps.xml` (a GS08 of 005010X212 stops
it with "Map not found"), and that map cannot be used as shipped: it rejects X12's own claim
status example at the first HL. Three defects, all outside the segment and element rules:

- the GS01/GS08 code lists were copied from the 820 map (RA, 005010X218);
- the HL loops 2000C, 2000D and 2000E sit in sibling wrappers (TABLE2AREA4..6) instead of
  nested each in its parent level, and 2000B has the same position as the HL before it;
- SE sits in a wrapper beside ST_LOOP instead of closing it.

This copies pyx12's map folder to a temporary one, registers the X212 map for GS01 HN and GS08
005010X212, and mends those three defects the way pyx12's working X214 (277CA) map is laid out:
each child HL loop at position 2000 in its parent, SE at the end of ST_LOOP. Every segment,
element, code list and syntax rule from ST to SE stays pyx12's, as shipped. A step that finds
its defect already fixed (a later pyx12) does nothing.

Usage: pyx12_with_x212.py VALIDATE_SCRIPT FILE...
"""

from __future__ import annotations

import functools
import importlib.resources
import os
import re
import runpy
import shutil
import sys
import tempfile
import xml.etree.ElementTree as ET

X212_MAP = "277.5010.X212.xml"
ENTRY = f'<map vriic="005010X212" fic="HN" abbr="277">{X212_MAP}</map>'


def _fix_codes(text: str, element: str, wrong: str, right: str) -> str:
    """Replace `wrong` by `right` in the valid codes of `element` (GS01, GS08)."""
    pattern = re.compile(rf'(<element xid="{element}">.*?</element>)', re.S)
    match = pattern.search(text)
    if match is None:
        raise SystemExit(f"{X212_MAP}: no {element} element to check")
    block = match.group(1)
    if f"<code>{right}</code>" in block:
        return text
    if f"<code>{wrong}</code>" not in block:
        raise SystemExit(f"{X212_MAP}: {element} lists neither {wrong} nor {right}")
    return text[: match.start()] + block.replace(f"<code>{wrong}</code>", f"<code>{right}</code>") + text[match.end() :]


def _nest_levels(path: str) -> None:
    """Nest 2000C in 2000B, 2000D in 2000C, 2000E in 2000D; move SE into ST_LOOP."""
    tree = ET.parse(path)
    gs_loop = tree.getroot().find(".//loop[@xid='GS_LOOP']")
    st_loop = gs_loop.find("loop[@xid='ST_LOOP']") if gs_loop is not None else None
    detail = st_loop.find("loop[@xid='DETAIL']") if st_loop is not None else None
    if detail is None:
        raise SystemExit(f"{X212_MAP}: no GS_LOOP/ST_LOOP/DETAIL")
    parent = detail.find("loop[@xid='2000A']/loop[@xid='2000B']")
    wrappers = [detail.find(f"loop[@xid='TABLE2AREA{area}']") for area in (4, 5, 6)]
    if parent is not None and all(wrapper is not None for wrapper in wrappers):
        for wrapper, level in zip(wrappers, ("2000C", "2000D", "2000E")):
            child = wrapper.find(f"loop[@xid='{level}']")
            if child is None:
                raise SystemExit(f"{X212_MAP}: no {level} in its wrapper")
            detail.remove(wrapper)
            parent.append(child)
            parent = child
        for level in ("2000B", "2000C", "2000D", "2000E"):
            for loop in detail.iter("loop"):
                if loop.get("xid") == level:
                    loop.find("pos").text = "2000"
    if st_loop.find("segment[@xid='SE']") is None:
        for wrapper in gs_loop.findall("loop"):
            se = wrapper.find("segment[@xid='SE']")
            if se is not None:
                gs_loop.remove(wrapper)
                st_loop.append(se)
                break
        else:
            raise SystemExit(f"{X212_MAP}: no SE segment found")
    tree.write(path, encoding="utf-8", xml_declaration=True)


def prepare(folder: str) -> None:
    with importlib.resources.as_file(importlib.resources.files("pyx12") / "map") as shipped:
        shutil.copytree(shipped, folder)
    index = os.path.join(folder, "maps.xml")
    with open(index, encoding="utf-8") as handle:
        text = handle.read()
    if 'vriic="005010X212" fic="HN"' not in text:
        anchor = '<map vriic="005010X214"'
        if anchor not in text:
            raise SystemExit("maps.xml: no 005010X214 entry to register X212 beside")
        text = text.replace(anchor, f"{ENTRY}\n    {anchor}", 1)
        with open(index, "w", encoding="utf-8") as handle:
            handle.write(text)
    path = os.path.join(folder, X212_MAP)
    with open(path, encoding="utf-8") as handle:
        text = handle.read()
    text = _fix_codes(text, "GS01", "RA", "HN")
    text = _fix_codes(text, "GS08", "005010X218", "005010X212")
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(text)
    _nest_levels(path)


def main(argv: list[str]) -> None:
    if len(argv) < 2:
        sys.stderr.write((__doc__ or "").lstrip())
        raise SystemExit(2)
    script, files = argv[0], argv[1:]
    import pyx12.x12n_document

    with tempfile.TemporaryDirectory() as scratch:
        folder = os.path.join(scratch, "map")
        prepare(folder)
        pyx12.x12n_document.x12n_document = functools.partial(pyx12.x12n_document.x12n_document, map_path=folder)
        sys.argv = [script, *files]
        runpy.run_path(script, run_name="__main__")


if __name__ == "__main__":
    main(sys.argv[1:])
