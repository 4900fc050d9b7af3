#!/usr/bin/env python3
"""Generate crates/proto/src/schema/generated.rs: the field table the generic transcoder walks.

Usage: gen_schema.py <k8s.io/api checkout> <k8s.io/apimachinery checkout> > src/schema/generated.rs
       cargo fmt -p keelson-proto

Both checkouts at the same release tag (we use v0.33.x, Kubernetes 1.33). Nothing upstream is
copied into the repository: only field numbers, wire types and JSON facts end up in the table.

Why two sources: the generated.proto files give the wire structure (numbers, types, maps,
repeated), but the JSON that upstream produces is decided by the Go structs behind them: the json
tag name, `omitempty`, whether the field is a pointer (present-with-zero vs absent) and whether it
is an embedded `json:",inline"` struct (e.g. Volume.volumeSource is flattened into Volume).
"""
import os
import re
import sys

API_PACKAGES = [
    "core/v1", "apps/v1", "batch/v1", "autoscaling/v1", "autoscaling/v2", "policy/v1", "rbac/v1",
    "coordination/v1", "discovery/v1", "networking/v1", "storage/v1", "scheduling/v1", "events/v1",
    "authentication/v1", "authorization/v1", "certificates/v1",
]
MACHINERY_PACKAGES = ["pkg/apis/meta/v1", "pkg/runtime", "pkg/util/intstr", "pkg/api/resource"]
GROUPS = {
    "core": "", "apps": "apps", "batch": "batch", "autoscaling": "autoscaling", "policy": "policy",
    "rbac": "rbac.authorization.k8s.io", "coordination": "coordination.k8s.io",
    "discovery": "discovery.k8s.io", "networking": "networking.k8s.io",
    "storage": "storage.k8s.io", "scheduling": "scheduling.k8s.io", "events": "events.k8s.io",
    "authentication": "authentication.k8s.io", "authorization": "authorization.k8s.io",
    "certificates": "certificates.k8s.io",
}
# Duration is not reachable from the served kinds; if a new kind reaches it, the generated
# Special::Duration fails to compile, which is the cue to implement Go's Duration.String().
SPECIAL = {
    "k8s.io.apimachinery.pkg.apis.meta.v1.Time": "Time",
    "k8s.io.apimachinery.pkg.apis.meta.v1.MicroTime": "MicroTime",
    "k8s.io.apimachinery.pkg.apis.meta.v1.Duration": "Duration",
    "k8s.io.apimachinery.pkg.apis.meta.v1.FieldsV1": "RawJson",
    "k8s.io.apimachinery.pkg.runtime.RawExtension": "RawJson",
    "k8s.io.apimachinery.pkg.api.resource.Quantity": "Quantity",
    "k8s.io.apimachinery.pkg.util.intstr.IntOrString": "IntOrString",
}
SCALARS = {"string": "String", "bool": "Bool", "int32": "Int32", "int64": "Int64", "bytes": "Bytes"}

FIELD_RE = re.compile(
    r"^\s*(optional|repeated|required)\s+([\w.]+)\s+(\w+)\s*=\s*(\d+)\s*;"
    r"|^\s*map<\s*(\w+)\s*,\s*([\w.]+)\s*>\s+(\w+)\s*=\s*(\d+)\s*;")


def parse_proto(path):
    """Returns (package, {message: {comment_nullable, fields:[...]}})."""
    package, messages, current, comments = None, {}, None, []
    for line in open(path, encoding="utf-8"):
        s = line.strip()
        if s.startswith("package "):
            package = s[len("package "):].rstrip(";")
        elif s.startswith("message "):
            name = s.split()[1]
            current = {"nullable": any("+protobuf.nullable=true" in c for c in comments),
                       "fields": []}
            messages[name] = current
        elif s == "}":
            current = None
        elif current is not None:
            m = FIELD_RE.match(line)
            if m and m.group(1):
                current["fields"].append(dict(label=m.group(1), type=m.group(2),
                                              name=m.group(3), num=int(m.group(4)), key=None))
            elif m:
                current["fields"].append(dict(label="map", type=m.group(6), name=m.group(7),
                                              num=int(m.group(8)), key=m.group(5)))
        comments = comments + [s] if s.startswith("//") else []
    return package, messages


GO_FIELD_RE = re.compile(r"^\t([^`]+?)\s*`([^`]*)`")


def parse_go(directory):
    """Returns {struct: [(num, json_name, omitempty, pointer, inline)]} in declaration order."""
    structs = {}
    for fname in sorted(os.listdir(directory)):
        if not fname.endswith(".go") or fname.endswith("_test.go"):
            continue
        current = None
        for line in open(os.path.join(directory, fname), encoding="utf-8"):
            m = re.match(r"^type (\w+) struct \{", line)
            if m:
                current = structs.setdefault(m.group(1), [])
                continue
            if line.startswith("}"):
                current = None
                continue
            if current is None:
                continue
            m = GO_FIELD_RE.match(line)
            if not m:
                continue
            decl, tags = m.group(1).split(), m.group(2)
            pm = re.search(r'protobuf:"([^"]*)"', tags)
            if not pm or not re.match(r"^\w+,\d+,", pm.group(1)):
                continue
            jm = re.search(r'json:"([^"]*)"', tags)
            jparts = jm.group(1).split(",") if jm else [""]
            gotype = decl[-1] if len(decl) > 1 else decl[0]
            embedded = len(decl) == 1
            current.append(dict(
                num=int(pm.group(1).split(",")[1]),
                json=jparts[0] if jm else decl[0][0].lower() + decl[0][1:],
                omitempty="omitempty" in jparts[1:],
                pointer=gotype.startswith("*"),
                inline=embedded and jparts[0] == ""))
    return structs


def main():
    api_root, machinery_root = sys.argv[1], sys.argv[2]
    dirs = [os.path.join(api_root, p) for p in API_PACKAGES]
    api_dirs = list(dirs)
    dirs += [os.path.join(machinery_root, p) for p in MACHINERY_PACKAGES]
    messages, go = {}, {}
    kinds = []
    for d in dirs:
        package, msgs = parse_proto(os.path.join(d, "generated.proto"))
        structs = parse_go(d)
        for name, msg in msgs.items():
            messages[package + "." + name] = msg
            go[package + "." + name] = structs.get(name)
        register = os.path.join(d, "register.go")
        rel = os.path.relpath(d, api_root)
        if d in api_dirs and os.path.exists(register):
            group, version = rel.split("/")
            api_version = (GROUPS[group] + "/" + version).lstrip("/")
            body = open(register, encoding="utf-8").read()
            body = body[body.index("func addKnownTypes"):]
            for kind in re.findall(r"&(\w+)\{\}", body.split("metav1.AddToGroupVersion")[0]):
                kinds.append((api_version, kind, package + "." + kind))

    # Keep only what the served kinds (and DeleteOptions) reach.
    roots = [k[2] for k in kinds] + ["k8s.io.apimachinery.pkg.apis.meta.v1.DeleteOptions"]
    reached, todo = [], list(roots)

    def resolve(pkg, t):
        if t in SCALARS:
            return None
        if t.startswith("."):
            return t[1:]
        return pkg + "." + t

    while todo:
        full = todo.pop()
        if full in reached:
            continue
        if full not in messages:
            sys.exit("unknown message " + full)
        reached.append(full)
        pkg = full.rsplit(".", 1)[0]
        if full in SPECIAL:
            continue
        for f in messages[full]["fields"]:
            r = resolve(pkg, f["type"])
            f["resolved"] = r
            if r and r not in reached:
                todo.append(r)
    reached.sort()
    index = {name: i for i, name in enumerate(reached)}

    out = ["// @generated by crates/proto/tools/gen_schema.py from k8s.io/api and",
           "// k8s.io/apimachinery v0.33.13 (Kubernetes 1.33). Do not edit by hand.",
           "use super::{Card, Field, Message, Scalar, Special, Ty};", "",
           "pub(crate) static MESSAGES: &[Message] = &["]
    for full in reached:
        msg = messages[full]
        special = SPECIAL.get(full)
        if special is None and msg["nullable"]:
            special = "NamedSlice"
        out.append("    Message {")
        out.append('        name: "%s",' % full)
        out.append("        special: Special::%s," % (special or "None"))
        gofields = go.get(full) or []
        by_num = {g["num"]: g for g in gofields}
        order = [g["num"] for g in gofields] + [f["num"] for f in msg["fields"]]
        protof = {f["num"]: f for f in msg["fields"]}
        seen, fields = set(), []
        for num in order:
            if num in seen or num not in protof:
                continue
            seen.add(num)
            f, g = protof[num], by_num.get(num)
            if g is None:
                g = dict(json=f["name"], omitempty=True, pointer=True, inline=False)
                if special is None:
                    print("warning: no Go field for %s.%s" % (full, f["name"]), file=sys.stderr)
            if g["json"] == "-":
                continue
            r = f.get("resolved")
            ty = "Ty::Message(%d)" % index[r] if r else "Ty::Scalar(Scalar::%s)" % SCALARS[f["type"]]
            card = {"optional": "Card::Single", "required": "Card::Single",
                    "repeated": "Card::Repeated"}.get(f["label"])
            if f["label"] == "map":
                card = "Card::Map(Scalar::%s)" % SCALARS[f["key"]]
            fields.append(
                "            Field { num: %d, json: \"%s\", ty: %s, card: %s, omitempty: %s, "
                "pointer: %s, inline: %s },"
                % (num, g["json"], ty, card, str(g["omitempty"]).lower(),
                   str(g["pointer"]).lower(), str(g["inline"]).lower()))
        out.append("        fields: &[")
        out.extend(fields)
        out.append("        ],")
        out.append("    },")
    out.append("];")
    out.append("")
    out.append("/// (apiVersion, kind, index into MESSAGES) of every kind the groups register.")
    out.append("pub(crate) static KINDS: &[(&str, &str, u16)] = &[")
    for api_version, kind, full in sorted(kinds):
        out.append('    ("%s", "%s", %d),' % (api_version, kind, index[full]))
    out.append("];")
    out.append("")
    out.append("pub(crate) const DELETE_OPTIONS: u16 = %d;"
               % index["k8s.io.apimachinery.pkg.apis.meta.v1.DeleteOptions"])
    print("\n".join(out))


if __name__ == "__main__":
    main()
