"""OpenAPI paths and schemas of compose contents (issue #12: ctsd/api/contents.py and
contents_upload.py), and the contents filters of the compose list. Merged into the
document by ctsd/api/openapi.py."""

from __future__ import annotations

from ctsd.api.openapi_schemas import JSON, ref

_ERROR_REFS = {400: "BadRequest", 401: "Unauthorized", 403: "Forbidden", 404: "NotFound"}
_STRING = {"type": "string"}
_NULLABLE = {"type": "string", "nullable": True}
_INT = {"type": "integer"}


def _query(name: str, description: str, schema: JSON | None = None) -> JSON:
    return {"name": name, "in": "query", "required": False, "schema": schema or _STRING,
            "description": description}


def _path(*names: str) -> list[JSON]:
    return [{"name": name, "in": "path", "required": True, "schema": _STRING,
             "description": "Compose ID" if name != "name" else "RPM name"} for name in names]


def _op(summary: str, schema: JSON, *errors: int, **extra: object) -> JSON:
    responses: JSON = {"200": {"description": summary,
                               "content": {"application/json": {"schema": schema}}}}
    for code in errors:
        responses[str(code)] = {"$ref": f"#/components/responses/{_ERROR_REFS[code]}"}
    return {"summary": summary, "tags": ["contents"], "responses": responses, **extra}


# What ctsd/db/contents_filters.py can split (empty: no filter). N-V-R: the last two
# "-" end the name and the version. N-E:V-R.A: the last "." starts the arch, then as
# N-V-R with a 1-9 digit epoch; without the epoch nothing may hold a ":" (lengths of
# handlers/contents_parse.parse_nevra).
_NVR = {"type": "string", "pattern": r"^([\s\S]+-[^-]+-[^-]+)?$"}
_NEVRA = {"type": "string", "pattern": (
    r"^([\s\S]{1,255}-[0-9]{1,9}:[^-:]{1,255}-[^-]{1,255}\.[^.]{1,20}"
    r"|[^:]{1,255}-[^-:]{1,255}-[^-:]{1,255}\.[^-.:]{1,20})?$")}


def contents_filter_parameters() -> list[JSON]:
    """Extension filters of the compose list (and latest/neighbours)."""
    return [
        _query("rpm_nvr", "Extension: composes containing an RPM of this N-V-R "
                          "(e.g. glibc-2.40-7.fc42); repeatable, ANDed", _NVR),
        _query("rpm_nevra", "Extension: composes containing this RPM, N-E:V-R.A or N-V-R.A "
                            "(any epoch)", _NEVRA),
        _query("rpm_name", "Extension: composes containing any RPM of this name"),
        _query("srpm_nvr", "Extension: composes containing an RPM built from this source "
                           "N-V-R", _NVR),
        _query("variant", "Extension: composes with this variant (with arch: this variant "
                          "has that arch)"),
        _query("arch", "Extension: composes with this architecture in some variant"),
    ]


def _upload(kind: str, productmd_class: str) -> JSON:
    return {"parameters": _path("compose_id"), "put": {
        **_op(f"Import the compose's {kind}.json ({productmd_class}) as Pungi writes it; "
              "Content-Encoding: gzip accepted; identical contents change nothing "
              "(changed: false). Allowed builders and admins. 413 past [http] "
              "contents_max_bytes (after decompression)", ref("ContentsImport"),
              400, 401, 403, 404, operationId=f"import{kind.title()}"),
        "requestBody": {"required": True, "content": {"application/json": {"schema": {
            "type": "object", "required": ["header", "payload"],
            "properties": {"header": {"type": "object", "required": ["type", "version"],
                                      "properties": {"type": {"enum": [f"productmd.{kind}"]},
                                                     "version": {"type": "string"}}},
                           "payload": {"type": "object"}},
            "description": f"A {productmd_class} file; productmd checks its payload (400 "
                           "naming what it refuses)"}}}},
    }}


def contents_paths(paging: list[JSON], filters: list[JSON]) -> JSON:
    def page(items: JSON) -> JSON:
        return {"type": "object", "required": ["items", "meta"],
                "properties": {"meta": {"type": "object"},
                               "items": {"type": "array", "items": items}}}
    return {
        "/api/1/composes/{compose_id}/rpms": _upload("rpms", "productmd.rpms.Rpms"),
        "/api/1/composes/{compose_id}/images": _upload("images", "productmd.images.Images"),
        "/api/1/composes/{compose_id}/rpms/": {"parameters": _path("compose_id"), "get": _op(
            "The compose's RPM entries by variant, arch, category, name", page(ref("RpmEntry")),
            400, 404, operationId="composeRpms", parameters=[
                _query("variant", "Variant UID"), _query("arch", "Compose architecture"),
                _query("name", "RPM name"),
                _query("category", "binary, debug or source",
                       {"type": "string", "enum": ["binary", "debug", "source"]}), *paging])},
        "/api/1/composes/{compose_id}/images/": {"parameters": _path("compose_id"), "get": _op(
            "The compose's images (productmd Image fields plus variant)",
            page({"type": "object"}),
            400, 404, operationId="composeImages", parameters=[
                _query("variant", "Variant UID"), _query("arch", "Compose architecture"),
                _query("type", "Image type (dvd, boot, qcow2, ...)"),
                _query("format", "Image format (iso, qcow2, ...)"), *paging])},
        "/api/1/composes/{compose_id}/contents/": {"parameters": _path("compose_id"), "get": _op(
            "What was imported, and the state of the automatic fetch (a failed fetch says "
            "why)", ref("ContentsSummary"), 400, 404, operationId="composeContents")},
        "/api/1/composes/{compose_id}/diff/{other_id}": {
            "parameters": _path("compose_id", "other_id"), "get": _op(
                "What changed from compose_id to other_id, per variant and arch (versions "
                "compared with rpm's ordering); 404 when one has no RPMs imported",
                ref("ContentsDiff"), 400, 404, operationId="composeDiff")},
        "/api/1/rpms/{name}/": {"parameters": _path("name"), "get": _op(
            "Each version of an RPM name with the first and last compose (among those "
            "matching the compose list filters) that carried it, oldest version first",
            ref("RpmHistory"), 400, operationId="rpmHistory", parameters=filters)},
    }


def _evr_change() -> JSON:
    return {"type": "object", "properties": {"name": _STRING, "arch": _STRING,
                                             "evr": _STRING, "old_evr": _STRING,
                                             "new_evr": _STRING}}


def contents_schemas() -> JSON:
    changes = {"type": "array", "items": _evr_change()}
    images = {"type": "array", "items": {"type": "object"}}
    edge = {"type": "object", "properties": {"compose_id": _STRING, "date": _STRING,
                                             "respin": _INT}}
    return {
        "ContentsImport": {"type": "object",
                           "required": ["compose_id", "kind", "count", "digest", "changed"],
                           "properties": {"compose_id": _STRING, "kind": _STRING,
                                          "count": _INT, "digest": _STRING,
                                          "changed": {"type": "boolean"}}},
        "RpmEntry": {"type": "object", "properties": {
            key: _STRING for key in ("variant", "arch", "category", "name", "version",
                                     "release", "package_arch", "nevra", "srpm_nevra",
                                     "path")} | {"epoch": _INT, "sigkey": _NULLABLE}},
        "ContentsSummary": {"type": "object", "properties": {
            "compose_id": _STRING, "rpms": {"type": "object", "nullable": True},
            "images": {"type": "object", "nullable": True},
            "fetch": {"type": "object", "nullable": True, "properties": {
                "url": _STRING, "state": {"type": "string",
                                          "enum": ["pending", "done", "failed"]},
                "attempts": _INT, "last_error": _NULLABLE}}}},
        "ContentsDiff": {"type": "object", "required": ["from", "to", "changes"], "properties": {
            "from": _STRING, "to": _STRING, "changes": {"type": "array", "items": {
                "type": "object", "properties": {
                    "variant": _STRING, "arch": _STRING, "added": changes,
                    "removed": changes, "upgraded": changes, "downgraded": changes,
                    "changed": changes, "images_added": images,
                    "images_removed": images}}}}},
        "RpmHistory": {"type": "object", "properties": {"name": _STRING, "versions": {
            "type": "array", "items": {"type": "object", "properties": {
                "evr": _STRING, "epoch": _INT, "version": _STRING, "release": _STRING,
                "composes": _INT, "first": edge, "last": edge}}}}},
    }
