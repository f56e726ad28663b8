"""docs/openapi.yaml: a valid OpenAPI 3.1 document that describes every route the
backend's URL table (backend/route.c) serves, and nothing it does not."""
import re

import yaml
from openapi_spec_validator import validate

from conftest import ROOT

SPEC_PATH = ROOT / "docs" / "openapi.yaml"
METHODS = {"HTTP_GET": "get", "HTTP_HEAD": "head", "HTTP_POST": "post", "HTTP_PUT": "put",
           "HTTP_DELETE": "delete", "HTTP_PATCH": "patch", "HTTP_OPTIONS": "options"}


def spec():
    return yaml.safe_load(SPEC_PATH.read_text())


def route_table():
    """[(methods, pattern, name)] from backend/route.c, in matching order."""
    src = (ROOT / "backend" / "route.c").read_text()
    table = src[src.index("route_table[] = {"):]
    table = table[:table.index("};")]
    rows = re.findall(r'\{\s*([A-Z_| ]+?),\s*"([^"]+)",\s*"([^"]+)"', table)
    assert len(rows) > 10, rows
    return [({METHODS[m.strip()] for m in ms.split("|")}, pat, name) for ms, pat, name in rows]


def route_match(pattern, path):
    """route.c's matching: '*' is one non-empty segment, a trailing '**' the rest."""
    rx = re.escape(pattern).replace(r"\*\*", ".*").replace(r"\*", "[^/]+")
    return re.fullmatch(rx, path) is not None


def test_spec_is_valid_openapi_3_1():
    doc = spec()
    assert doc["openapi"].startswith("3.1")
    validate(doc)


def test_every_route_is_documented():
    paths = spec()["paths"]
    for methods, pattern, name in route_table():
        if pattern.endswith("**"):
            # Catch-alls: the UI at "/" (files below it are the UI's own), and the
            # JSON 404 for unknown API paths, which is described in the info text.
            if pattern == "/**":
                assert "get" in paths["/"], name
            continue
        doc_path = re.sub(r"\*", "{}", pattern)
        templ = [p for p in paths if re.sub(r"\{[^}]+\}", "{}", p) == doc_path]
        assert templ, f"route {name} ({pattern}) is not in docs/openapi.yaml"
        documented = set(paths[templ[0]])
        for m in methods - {"head"}:  # every GET route answers HEAD, as info.description says
            assert m in documented, f"{m.upper()} {pattern} is not in docs/openapi.yaml"


def test_every_documented_path_is_served():
    table = route_table()
    for path, ops in spec()["paths"].items():
        concrete = re.sub(r"\{[^}]+\}", "x", path)
        served = next(((ms, pat) for ms, pat, _ in table if route_match(pat, concrete)
                       and ms & set(ops)), None)
        assert served, f"{path} is documented but no route serves it"
        if path != "/":
            assert not served[1].endswith("**"), f"{path} is only served by the catch-all"
        for m in ops:
            assert m in served[0], f"{m.upper()} {path} is documented but not routed"


def test_error_body_schema_is_the_one_http_error_writes():
    err = spec()["components"]["schemas"]["Error"]
    assert err["required"] == ["error"]
    assert set(err["properties"]["error"]["required"]) == {"code", "message"}
    # kerr_name's table: every code the backend can put in a body.
    src = (ROOT / "common" / "kerr.c").read_text()
    names = set(re.findall(r'\{ KERR_[A-Z]+, "([a-z_]+)", \d+ \}', src)) - {"ok"}
    assert names == set(err["properties"]["error"]["properties"]["code"]["enum"])
