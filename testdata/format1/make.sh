#!/bin/sh
# How testdata/format1 was made, once, by Plinth at commit e6932b7 (the
# last commit before data had format versions). It is kept as a record and
# must never be run again: the fixture is what older Plinths wrote, and
# every later Plinth has to open, migrate, verify and restore it as it is.
#
#   go build -tags migrated_fynedo -o /tmp/plinth-v1 . &&
#   PLINTH=/tmp/plinth-v1 sh testdata/format1/make.sh /tmp/format1
set -eu
OUT=$1
P=${PLINTH:?the Plinth binary}
IFC=$(cd "$(dirname "$0")/../../../shared/ifc/samples" 2>/dev/null && pwd || true)
[ -n "$IFC" ] || IFC=$(cd "$(dirname "$0")/../ifc" && pwd)
rm -rf "$OUT" && mkdir -p "$OUT/src/Tower/Design" "$OUT/src/Tower/Docs" "$OUT/src/Library"
D=$OUT/data
export PLINTH_PASSWORD=fixture-master-1 PLINTH_NEW_PASSWORD=fixture-master-1
pl() { "$P" -data "$D" -user masteradmin "$@"; }

pl init
PLINTH_NEW_PASSWORD=fixture-alice-1 pl user add alice --role server-admin --email alice@example.test
PLINTH_NEW_PASSWORD=fixture-bob-1 pl user add bob --role project-admin
PLINTH_NEW_PASSWORD=fixture-carol-1 pl user add carol --role none
pl user email masteradmin admin@example.test
PLINTH_SMTP_PASSWORD=fixture-smtp-1 pl smtp set --host 127.0.0.1 --port 2525 --security starttls --user plinth --from plinth@example.test

pl mkdir /Office --kind folder
pl mkdir /Office/Tower --kind project
pl mkdir /Office/Library --kind library

cp "$IFC/IfcOpenHouse_IFC4.ifc" "$OUT/src/Tower/Design/house.ifc"
printf 'Tower brief, first draft\n' > "$OUT/src/Tower/Docs/brief.txt"
printf 'Schedule of rooms\nroom,area\nliving,30\n' > "$OUT/src/Tower/Docs/rooms.csv"
head -c 300000 "$IFC/example.ifc" > "$OUT/src/Tower/Docs/big.bin"
printf 'Door family\n' > "$OUT/src/Library/door.txt"
printf 'Window family\n' > "$OUT/src/Library/window.txt"
pl import --to /Office/Tower "$OUT/src/Tower/Design" "$OUT/src/Tower/Docs"
pl import --to /Office/Library "$OUT/src/Library/door.txt" "$OUT/src/Library/window.txt"
# A second and a third version of the brief.
printf 'Tower brief, second draft\n' > "$OUT/src/Tower/Docs/brief.txt"
pl import --to /Office/Tower/Docs "$OUT/src/Tower/Docs/brief.txt"
printf 'Tower brief, final\n' > "$OUT/src/Tower/Docs/brief.txt"
pl import --to /Office/Tower/Docs "$OUT/src/Tower/Docs/brief.txt"

pl imodel create /Office/Tower Model
pl connection add /Office/Tower/Model Architecture --source-plinth /Office/Tower/Design --map house.ifc --schedule manual
pl connection sync /Office/Tower/Model Architecture

pl snapshot schedule /Office/Tower hourly --keep 24
pl backup --level 1 --item /Office/Tower --json > "$OUT/snapshot1.json"
pl backup --level 1 --item /Office/Library --json > "$OUT/snapshot2.json"
pl backup --level 2 --json > "$OUT/full.json"
printf 'Minutes of the first meeting\n' > "$OUT/src/Tower/Docs/minutes.txt"
pl import --to /Office/Tower/Docs "$OUT/src/Tower/Docs/minutes.txt"
pl backup --level 2 --json > "$OUT/incremental.json"
pl backup --level 1 --item /Office/Tower --json > "$OUT/snapshot3.json"
SNAP=$(sed -n 's/.*"id": *"\([^"]*\)".*/\1/p' "$OUT/snapshot3.json" | head -n1)
pl snapshot-export "$SNAP" "$OUT/tower.plinth-snapshot"
pl status --json > "$OUT/status.json"
pl backups --json > "$OUT/backups.json"

# What the fixture holds, from the source files and the command outputs
# above (not from the stores): the test compares what Plinth reads back
# against it.
python3 - "$OUT" <<'PY'
import hashlib, json, os, sys
out = sys.argv[1]
def h(b): return hashlib.sha256(b).hexdigest()
def f(rel): return open(os.path.join(out, "src", rel), "rb").read()
def ent(path, rel): b = f(rel); return {"path": path, "size": len(b), "sha256": h(b)}
def ids(name): return json.load(open(os.path.join(out, name)))["id"]
drafts = [b"Tower brief, first draft\n", b"Tower brief, second draft\n", b"Tower brief, final\n"]
before = [ent("/Office/Tower/Design/house.ifc", "Tower/Design/house.ifc"),
          {"path": "/Office/Tower/Docs/brief.txt", "size": len(drafts[2]), "sha256": h(drafts[2]),
           "versions": [h(d) for d in reversed(drafts)]},
          ent("/Office/Tower/Docs/rooms.csv", "Tower/Docs/rooms.csv"),
          ent("/Office/Tower/Docs/big.bin", "Tower/Docs/big.bin"),
          ent("/Office/Library/door.txt", "Library/door.txt"),
          ent("/Office/Library/window.txt", "Library/window.txt")]
after = before + [ent("/Office/Tower/Docs/minutes.txt", "Tower/Docs/minutes.txt")]
exp = {
  "madeBy": "Plinth before format versions (see make.sh)",
  "passwords": {"masteradmin": "fixture-master-1", "alice": "fixture-alice-1", "bob": "fixture-bob-1", "carol": "fixture-carol-1"},
  "users": [{"name": "masteradmin", "role": "server-admin", "email": "admin@example.test"},
            {"name": "alice", "role": "server-admin", "email": "alice@example.test"},
            {"name": "bob", "role": "project-admin"}, {"name": "carol", "role": "none"}],
  "smtp": {"host": "127.0.0.1", "port": 2525, "user": "plinth", "password": "fixture-smtp-1", "from": "plinth@example.test"},
  "files": after,
  "imodel": {"path": "/Office/Tower/Model", "elements": 47, "changesets": 1,
             "connection": "Architecture", "source": "/Office/Tower/Design", "mapped": "house.ifc"},
  "level2": {"full": {"id": ids("full.json"), "files": before},
             "incremental": {"id": ids("incremental.json"), "files": after}},
  "snapshots": {"towerBefore": {"id": ids("snapshot1.json"), "item": "/Office/Tower"},
                "library": {"id": ids("snapshot2.json"), "item": "/Office/Library"},
                "towerAfter": {"id": ids("snapshot3.json"), "item": "/Office/Tower"}},
  "archive": {"file": "tower.plinth-snapshot", "id": ids("snapshot3.json"), "item": "Tower"},
}
json.dump(exp, open(os.path.join(out, "expected.json"), "w"), indent=2)
PY
# Only the data folder, the archive and what is expected are kept.
rm -rf "$OUT/src" "$OUT/data/logs" "$OUT"/snapshot?.json "$OUT/full.json" "$OUT/incremental.json" "$OUT/status.json" "$OUT/backups.json"
