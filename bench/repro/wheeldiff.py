"""wheeldiff: are two wheels the same bytes, and if not, which zip members differ.

The one comparison of Kiln's reproducibility checks (docs/builds.md, "Reproducible
builds"): bench/repro/run.sh uses it now, the farm's second-builder check is to
use the same rules. Standard library only, so it runs anywhere a Python 3.8+ does.

    python3 wheeldiff.py A.whl B.whl [--json]

exits 0 when the files are identical, 1 when they differ, 2 when one is unreadable.
A difference is reported per member, as what a reader would fix first:

  only-in-a / only-in-b   the member exists in one wheel only
  content                 the member's bytes differ (RECORD differs with them)
  metadata: date, mode, compression, extra, comment, system
                          same bytes, different zip entry (a timestamp, permissions, ...)
  order                   same members, stored in another order
  archive                 every member equal, the files still differ (the zip's own
                          comment or layout)
"""
import json
import sys
import zipfile

__all__ = ["compare", "describe"]


def _meta(i):
    """The zip-entry fields that are not the member's bytes, by the name we report."""
    return {
        "date": "%04d-%02d-%02d %02d:%02d:%02d" % i.date_time,
        # The high 16 bits are the Unix mode: permissions and file type.
        "mode": "%o" % (i.external_attr >> 16),
        "compression": str(i.compress_type),
        "extra": i.extra.hex(),
        "comment": i.comment.hex(),
        "system": str(i.create_system),
    }


def compare(a, b):
    """Compare the wheels at paths a and b.

    Returns {"identical": bool, "size": [na, nb], "members": [{"name", "kind",
    "fields": {field: [value_a, value_b]}}], "order": bool}. "identical" is the
    byte-for-byte verdict; the member list says where the bytes came apart.
    Raises OSError or zipfile.BadZipFile when a file cannot be read as a zip.
    """
    with open(a, "rb") as fa, open(b, "rb") as fb:
        da, db = fa.read(), fb.read()
    out = {"identical": da == db, "size": [len(da), len(db)], "members": [], "order": False}
    if out["identical"]:
        return out
    with zipfile.ZipFile(a) as za, zipfile.ZipFile(b) as zb:
        ia = {i.filename: i for i in za.infolist()}
        ib = {i.filename: i for i in zb.infolist()}
        for name in sorted(set(ia) | set(ib)):
            if name not in ib:
                out["members"].append({"name": name, "kind": "only-in-a", "fields": {}})
                continue
            if name not in ia:
                out["members"].append({"name": name, "kind": "only-in-b", "fields": {}})
                continue
            if za.read(name) != zb.read(name):
                out["members"].append({"name": name, "kind": "content", "fields": {}})
                continue
            ma, mb = _meta(ia[name]), _meta(ib[name])
            fields = {k: [ma[k], mb[k]] for k in ma if ma[k] != mb[k]}
            if fields:
                out["members"].append({"name": name, "kind": "metadata", "fields": fields})
        common = [n for n in ia if n in ib]
        out["order"] = common != [n for n in ib if n in ia]
        if za.comment != zb.comment:
            out["members"].append({"name": "", "kind": "archive",
                                   "fields": {"comment": [za.comment.hex(), zb.comment.hex()]}})
    if not out["members"] and not out["order"]:
        out["members"].append({"name": "", "kind": "archive", "fields": {}})
    return out


def describe(r):
    """Lines for a person: "identical", or "differs" and one line per member."""
    if r["identical"]:
        return ["identical (%d bytes)" % r["size"][0]]
    lines = ["differs (%d and %d bytes)" % tuple(r["size"])]
    if r["order"]:
        lines.append("  order: the members are stored in another order")
    for m in r["members"]:
        if m["kind"] == "metadata":
            lines.append("  %s: metadata: %s" % (m["name"], ", ".join(
                "%s %s vs %s" % (k, v[0], v[1]) for k, v in sorted(m["fields"].items()))))
        elif m["kind"] == "archive":
            lines.append("  (archive): the zip's own layout or comment")
        else:
            lines.append("  %s: %s" % (m["name"], m["kind"]))
    return lines


def main(argv):
    args = [x for x in argv[1:] if x != "--json"]
    if len(args) != 2:
        print("usage: wheeldiff.py A.whl B.whl [--json]", file=sys.stderr)
        return 2
    try:
        r = compare(args[0], args[1])
    except (OSError, zipfile.BadZipFile) as e:
        print("wheeldiff: %s" % e, file=sys.stderr)
        return 2
    if "--json" in argv:
        print(json.dumps(r, indent=1))
    else:
        print("\n".join(describe(r)))
    return 0 if r["identical"] else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
