//! The catalog: typed records in an embedded key-value store, and the one
//! place that knows their key layout and the store behind it.
//!
//! Everything lives in one ordered key space under typed key prefixes (see
//! docs/format.md for the full layout). Values are JSON. The key-value
//! engine is redb or sled ([`CatalogEngine`], chosen per store at `init`);
//! only [`Kv`] names them, so the engine can change without touching
//! callers. Secondary indexes
//! (Aktenzeichen → Akte, container → documents, blob → documents, object →
//! audit events, ...) are maintained by [`Txn`] from the old and new
//! versions of each record, so callers never touch them.
//!
//! Commit protocol ([`Txn::commit`]): all writes of one operation, its audit
//! events and the new chain head are collected in one batch and applied
//! atomically and durably before `commit` returns (redb: one write
//! transaction committed with immediate durability; sled: `apply_batch`,
//! then `flush`). A crash before that completes leaves either none or all
//! of the batch.
//!
//! Invariants:
//! - Only the store's lock holder opens the catalog.
//! - Writes happen only through [`Txn`]; one operation = one batch.
//! - Every audit event is written in the batch of the change it records.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use jiff::Timestamp;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::audit::{AuditEvent, ChainHead, NewEvent, ObjectKind, ObjectRef};
use crate::failpoint;
use crate::model::{Akte, AkteId, BlobId, DocId, Dokument, Kennzeichen, Location, Vorgang, VorgangId};
use crate::plan::Plan;

/// Version of the key layout and value encoding, stored under `meta\0format`.
/// 2 added extracted text (`txt\0`), the change log (`chg\0`) and optional
/// record fields; 3 the mailroom's intake records (`ink\0`, `inatt\0`),
/// which keep scan products alive: an older akten must not open it (its gc
/// would remove them). Formats 1 and 2 are upgraded on open (nothing to
/// convert).
pub const CATALOG_FORMAT: u32 = 4;

/// What can go wrong in the catalog.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("catalog at {}: {detail}: run `akten verify`; if it cannot open the catalog, restore it from a backup", path.display())]
    Storage { path: PathBuf, detail: String },
    #[error(
        "{} holds no {expected} catalog{}: set [catalog] engine in akten.toml to the engine the store was created with",
        path.display(),
        found.map(|f| format!(" but a {f} one")).unwrap_or_default()
    )]
    WrongEngine { path: PathBuf, expected: CatalogEngine, found: Option<CatalogEngine> },
    #[error("catalog entry {key} is unreadable ({detail}): run `akten verify` and restore the catalog from a backup")]
    Corrupt { key: String, detail: String },
    #[error(
        "catalog format {found} is not the one this akten uses ({CATALOG_FORMAT}): use the akten version that created the store"
    )]
    Format { found: String },
}

/// The key-value engine under the catalog, fixed when the store is created.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CatalogEngine {
    /// redb: B-trees, copy-on-write, ACID (the default; see docs/benchmarks.md).
    #[default]
    Redb,
    /// sled 0.34.7.
    Sled,
}

impl std::str::FromStr for CatalogEngine {
    type Err = String;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        match name {
            "redb" => Ok(CatalogEngine::Redb),
            "sled" => Ok(CatalogEngine::Sled),
            other => Err(format!("unknown catalog engine '{other}': use redb or sled")),
        }
    }
}

impl std::fmt::Display for CatalogEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            CatalogEngine::Redb => "redb",
            CatalogEngine::Sled => "sled",
        })
    }
}

const REDB_FILE: &str = "catalog.redb";
const SLED_FILE: &str = "db";
const REDB_TABLE: redb::TableDefinition<&[u8], &[u8]> = redb::TableDefinition::new("catalog");

/// One write of a batch: a value to set, or `None` to remove the key.
type Op = (Vec<u8>, Option<Vec<u8>>);

/// The ordered key-value store: the seam behind which the engine can change.
enum Kv {
    Redb(redb::Database),
    Sled(sled::Db),
}

impl Kv {
    fn open(dir: &Path, engine: CatalogEngine, create: bool) -> Result<Kv, CatalogError> {
        let storage = |detail: String| CatalogError::Storage { path: dir.to_path_buf(), detail };
        if !create {
            let has_redb = dir.join(REDB_FILE).is_file();
            let has_sled = dir.join(SLED_FILE).is_file();
            let found = match (has_redb, has_sled) {
                (true, _) => Some(CatalogEngine::Redb),
                (false, true) => Some(CatalogEngine::Sled),
                (false, false) => None,
            };
            if found != Some(engine) {
                return Err(CatalogError::WrongEngine { path: dir.to_path_buf(), expected: engine, found });
            }
        }
        match engine {
            CatalogEngine::Redb => {
                std::fs::create_dir_all(dir).map_err(|e| storage(e.to_string()))?;
                let path = dir.join(REDB_FILE);
                let mut builder = redb::Database::builder();
                builder.set_cache_size(128 * 1024 * 1024);
                let db = if create { builder.create(&path) } else { builder.open(&path) }
                    .map_err(|e| storage(e.to_string()))?;
                // The table must exist before the first read transaction opens it.
                let txn = db.begin_write().map_err(|e| storage(e.to_string()))?;
                txn.open_table(REDB_TABLE).map_err(|e| storage(e.to_string()))?;
                txn.commit().map_err(|e| storage(e.to_string()))?;
                Ok(Kv::Redb(db))
            }
            CatalogEngine::Sled => {
                let db = sled::Config::new()
                    .path(dir)
                    .cache_capacity(64 * 1024 * 1024)
                    // Durability comes from the explicit flush in `apply`; a
                    // background flusher would make crash outcomes depend on timing.
                    .flush_every_ms(None)
                    .open()
                    .map_err(|e| storage(e.to_string()))?;
                Ok(Kv::Sled(db))
            }
        }
    }

    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, String> {
        match self {
            Kv::Redb(db) => {
                use redb::{ReadableDatabase, ReadableTable};
                let txn = db.begin_read().map_err(|e| e.to_string())?;
                let table = txn.open_table(REDB_TABLE).map_err(|e| e.to_string())?;
                Ok(table.get(key).map_err(|e| e.to_string())?.map(|v| v.value().to_vec()))
            }
            Kv::Sled(db) => Ok(db.get(key).map_err(|e| e.to_string())?.map(|v| v.to_vec())),
        }
    }

    /// Calls `f` for every key starting with `prefix` and not below `start`,
    /// in key order, until it returns `false`.
    fn scan(&self, prefix: &[u8], start: &[u8], f: &mut dyn FnMut(&[u8], &[u8]) -> bool) -> Result<(), String> {
        match self {
            Kv::Redb(db) => {
                use redb::{ReadableDatabase, ReadableTable};
                let txn = db.begin_read().map_err(|e| e.to_string())?;
                let table = txn.open_table(REDB_TABLE).map_err(|e| e.to_string())?;
                for item in table.range(start..).map_err(|e| e.to_string())? {
                    let (k, v) = item.map_err(|e| e.to_string())?;
                    if !k.value().starts_with(prefix) || !f(k.value(), v.value()) {
                        break;
                    }
                }
            }
            Kv::Sled(db) => {
                for item in db.range(start..) {
                    let (k, v) = item.map_err(|e| e.to_string())?;
                    if !k.starts_with(prefix) || !f(&k, &v) {
                        break;
                    }
                }
            }
        }
        Ok(())
    }

    /// Applies `ops` atomically and durably: when it returns, all of them
    /// are on disk; if the process dies before, none or all are.
    fn apply(&self, ops: Vec<Op>) -> Result<(), String> {
        match self {
            Kv::Redb(db) => {
                let mut txn = db.begin_write().map_err(|e| e.to_string())?;
                txn.set_durability(redb::Durability::Immediate).map_err(|e| e.to_string())?;
                // Saves the allocator state with every commit, so that the
                // first open after a crash does not walk the whole file
                // (measured: 2 ms instead of 436 ms at 100,000 documents).
                txn.set_quick_repair(true);
                {
                    let mut table = txn.open_table(REDB_TABLE).map_err(|e| e.to_string())?;
                    for (key, value) in &ops {
                        match value {
                            Some(v) => table.insert(key.as_slice(), v.as_slice()).map(|_| ()),
                            None => table.remove(key.as_slice()).map(|_| ()),
                        }
                        .map_err(|e| e.to_string())?;
                    }
                }
                failpoint::hit("catalog.applied");
                txn.commit().map_err(|e| e.to_string())?;
            }
            Kv::Sled(db) => {
                let mut batch = sled::Batch::default();
                for (key, value) in ops {
                    match value {
                        Some(v) => batch.insert(key, v),
                        None => batch.remove(key),
                    }
                }
                db.apply_batch(batch).map_err(|e| e.to_string())?;
                failpoint::hit("catalog.applied");
                db.flush().map_err(|e| e.to_string())?;
            }
        }
        failpoint::hit("catalog.flushed");
        Ok(())
    }

    fn size_on_disk(&self, dir: &Path) -> Result<u64, String> {
        match self {
            Kv::Redb(_) => std::fs::metadata(dir.join(REDB_FILE)).map(|m| m.len()).map_err(|e| e.to_string()),
            Kv::Sled(db) => db.size_on_disk().map_err(|e| e.to_string()),
        }
    }
}

/// The plan versions imported into the store, oldest first.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct PlanRecord {
    pub name: String,
    pub version: String,
    pub imported_at: jiff::Timestamp,
    pub file_name: String,
    /// The imported file itself, kept as a blob.
    pub source: BlobId,
}

/// One entry of the location index: (container id, or `None` for the
/// Posteingang; document).
pub type LocationEntry = (Option<[u8; 16]>, DocId);

/// The open catalog.
/// One file the mailroom took in, keyed by the blob of its bytes: a file
/// with these bytes is never taken in twice.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IntakeRecord {
    pub blob: BlobId,
    pub file_name: String,
    pub station: String,
    pub taken_at: Timestamp,
    /// The documents made from it, in page order.
    pub docs: Vec<DocId>,
}

/// A document waiting in the Posteingang (or on the discard list): what
/// classification suggested, which office it is for, and what people did.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PostItem {
    pub doc: DocId,
    pub arrived_at: Timestamp,
    pub suggestions: Vec<crate::classify::Suggestion>,
    /// Why akten did not file it on its own.
    pub why: String,
    /// The office it is for: the top suggestion's, or where it was forwarded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<crate::model::OrgUnit>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub forwarded: Vec<Forwarding>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub discarded: Option<Discard>,
}

impl PostItem {
    /// A record with no suggestions, unit or history yet.
    pub fn new(doc: DocId, arrived_at: Timestamp) -> PostItem {
        PostItem {
            doc,
            arrived_at,
            suggestions: Vec::new(),
            why: String::new(),
            unit: None,
            forwarded: Vec::new(),
            discarded: None,
        }
    }
}

/// An item sent on to another office.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Forwarding {
    pub from: Option<crate::model::OrgUnit>,
    pub to: crate::model::OrgUnit,
    pub by: crate::model::Actor,
    pub at: Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// Why and until when an item is kept on the discard list.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Discard {
    pub reason: String,
    pub by: crate::model::Actor,
    pub at: Timestamp,
    /// From this day on it is disposed of (with an audit record).
    pub dispose_from: jiff::civil::Date,
}

pub struct Catalog {
    path: PathBuf,
    engine: CatalogEngine,
    kv: Kv,
}

mod key {
    //! Key prefixes. Each ends in a NUL so no prefix is a prefix of another.
    pub const META_FORMAT: &[u8] = b"meta\0format";
    pub const META_HEAD: &[u8] = b"meta\0audit_head";
    pub const PLAN: &[u8] = b"plan\0current";
    pub const PLAN_HISTORY: &[u8] = b"plan\0history\0";
    pub const AKTE: &[u8] = b"akte\0";
    pub const AZ: &[u8] = b"az\0";
    pub const POSITION: &[u8] = b"pos\0";
    pub const COUNTER: &[u8] = b"ctr\0";
    pub const VORGANG: &[u8] = b"vg\0";
    pub const VZ: &[u8] = b"vz\0";
    pub const AKTE_VORGANG: &[u8] = b"avg\0";
    pub const DOC: &[u8] = b"doc\0";
    pub const LOCATION: &[u8] = b"loc\0";
    pub const BLOB: &[u8] = b"blob\0";
    pub const EVENT: &[u8] = b"ev\0";
    pub const EVENT_OBJECT: &[u8] = b"evo\0";
    pub const TEXT: &[u8] = b"txt\0";
    pub const CHANGE: &[u8] = b"chg\0";
    pub const META_CHANGE: &[u8] = b"meta\0change_seq";
    pub const INTAKE: &[u8] = b"ink\0";
    pub const INTAKE_ATTEMPTS: &[u8] = b"inatt\0";
    pub const POST_ITEM: &[u8] = b"post\0";
    pub const META_TRAINING: &[u8] = b"meta\0training_seq";

    pub fn join(parts: &[&[u8]]) -> Vec<u8> {
        parts.concat()
    }
}

/// The container id used in `loc\0` keys for the Posteingang.
const POSTEINGANG: [u8; 16] = [0; 16];
/// The container id used in `loc\0` keys for the discard list.
pub const DISCARDED: [u8; 16] = [0xff; 16];

fn container_of(location: &Location) -> [u8; 16] {
    match location {
        Location::Posteingang => POSTEINGANG,
        Location::Discarded => DISCARDED,
        Location::Akte { akte } => *akte.as_bytes(),
        Location::Vorgang { vorgang, .. } => *vorgang.as_bytes(),
    }
}

fn object_key(object: &ObjectRef, seq: u64) -> Vec<u8> {
    key::join(&[key::EVENT_OBJECT, object_prefix(object.kind, &object.id).as_slice(), &seq.to_be_bytes()])
}

fn object_prefix(kind: ObjectKind, id: &str) -> Vec<u8> {
    key::join(&[kind.as_str().as_bytes(), b"\0", id.as_bytes(), b"\0"])
}

fn counter_key(position: &Kennzeichen, year: Option<i16>) -> Vec<u8> {
    let year = year.map(|y| y.to_string()).unwrap_or_else(|| "-".to_string());
    key::join(&[key::COUNTER, position.as_str().as_bytes(), b"\0", year.as_bytes()])
}

fn position_key(position: &Kennzeichen, akte: &AkteId) -> Vec<u8> {
    key::join(&[key::POSITION, position.as_str().as_bytes(), b"\0", akte.as_bytes()])
}

fn blob_key(blob: &BlobId, doc: &DocId, version: u32) -> Vec<u8> {
    key::join(&[key::BLOB, blob.as_bytes(), doc.as_bytes(), &version.to_be_bytes()])
}

fn text_key(doc: &DocId, version: u32) -> Vec<u8> {
    key::join(&[key::TEXT, doc.as_bytes(), &version.to_be_bytes()])
}

fn uuid16(bytes: &[u8], key: &[u8]) -> Result<[u8; 16], CatalogError> {
    bytes.try_into().map_err(|_| CatalogError::Corrupt {
        key: String::from_utf8_lossy(key).into_owned(),
        detail: format!("expected 16 id bytes, found {}", bytes.len()),
    })
}

impl Catalog {
    /// Creates an empty catalog in `dir` on `engine` and records its format.
    pub fn create(dir: &Path, engine: CatalogEngine) -> Result<Catalog, CatalogError> {
        let catalog = Catalog { path: dir.to_path_buf(), engine, kv: Kv::open(dir, engine, true)? };
        catalog
            .kv
            .apply(vec![(key::META_FORMAT.to_vec(), Some(CATALOG_FORMAT.to_string().into_bytes()))])
            .map_err(|e| catalog.storage(e))?;
        Ok(catalog)
    }

    /// Opens the catalog in `dir`, which must have been created on `engine`,
    /// and checks its format.
    pub fn open(dir: &Path, engine: CatalogEngine) -> Result<Catalog, CatalogError> {
        let catalog = Catalog { path: dir.to_path_buf(), engine, kv: Kv::open(dir, engine, false)? };
        let found = catalog.kv.get(key::META_FORMAT).map_err(|e| catalog.storage(e))?;
        let found = found.map(|v| String::from_utf8_lossy(&v).into_owned()).unwrap_or_else(|| "none".into());
        if found == "1" || found == "2" || found == "3" {
            // Formats 2, 3 and 4 only add keys, optional fields and a
            // location variant: mark it upgraded.
            catalog
                .kv
                .apply(vec![(key::META_FORMAT.to_vec(), Some(CATALOG_FORMAT.to_string().into_bytes()))])
                .map_err(|e| catalog.storage(e))?;
        } else if found != CATALOG_FORMAT.to_string() {
            return Err(CatalogError::Format { found });
        }
        Ok(catalog)
    }

    pub fn engine(&self) -> CatalogEngine {
        self.engine
    }

    fn storage(&self, detail: String) -> CatalogError {
        CatalogError::Storage { path: self.path.clone(), detail }
    }

    /// Bytes the catalog occupies on disk.
    pub fn size_on_disk(&self) -> Result<u64, CatalogError> {
        self.kv.size_on_disk(&self.path).map_err(|e| self.storage(e))
    }

    /// Gives space that updates freed back to the file system and returns
    /// the size before and after. redb moves pages towards the start of its
    /// file and truncates it; sled has no such operation (a no-op there).
    pub fn compact(&mut self) -> Result<(u64, u64), CatalogError> {
        let before = self.size_on_disk()?;
        if let Kv::Redb(db) = &mut self.kv {
            while db
                .compact(redb::CompactionMode::Balanced)
                .map_err(|e| CatalogError::Storage { path: self.path.clone(), detail: e.to_string() })?
            {}
        }
        Ok((before, self.size_on_disk()?))
    }

    fn get<T: DeserializeOwned>(&self, key: &[u8]) -> Result<Option<T>, CatalogError> {
        match self.kv.get(key).map_err(|e| self.storage(e))? {
            None => Ok(None),
            Some(bytes) => decode(key, &bytes).map(Some),
        }
    }

    fn get_raw(&self, key: &[u8]) -> Result<Option<Vec<u8>>, CatalogError> {
        self.kv.get(key).map_err(|e| self.storage(e))
    }

    /// Converts every entry below `prefix`, from the first key not below
    /// `start`, with `convert`, in key order, stopping at the first entry it
    /// rejects.
    fn scan_with<T>(
        &self,
        prefix: &[u8],
        start: &[u8],
        convert: impl FnMut(&[u8], &[u8]) -> Result<T, CatalogError>,
    ) -> Result<Vec<T>, CatalogError> {
        self.scan_limited(prefix, start, usize::MAX, convert)
    }

    /// [`Self::scan_with`], stopping after `limit` entries.
    fn scan_limited<T>(
        &self,
        prefix: &[u8],
        start: &[u8],
        limit: usize,
        mut convert: impl FnMut(&[u8], &[u8]) -> Result<T, CatalogError>,
    ) -> Result<Vec<T>, CatalogError> {
        let mut out = Vec::new();
        let mut failed = None;
        self.kv
            .scan(prefix, start, &mut |k, v| match convert(k, v) {
                Ok(value) => {
                    out.push(value);
                    out.len() < limit
                }
                Err(e) => {
                    failed = Some(e);
                    false
                }
            })
            .map_err(|e| self.storage(e))?;
        match failed {
            Some(e) => Err(e),
            None => Ok(out),
        }
    }

    fn scan<T: DeserializeOwned>(&self, prefix: &[u8]) -> Result<Vec<T>, CatalogError> {
        self.scan_with(prefix, prefix, decode)
    }

    /// Keys below `prefix`, with the prefix cut off.
    fn scan_keys(&self, prefix: &[u8]) -> Result<Vec<Vec<u8>>, CatalogError> {
        self.scan_with(prefix, prefix, |k, _| Ok(k[prefix.len()..].to_vec()))
    }

    pub fn plan(&self) -> Result<Option<Plan>, CatalogError> {
        self.get(key::PLAN)
    }

    pub fn plan_history(&self) -> Result<Vec<PlanRecord>, CatalogError> {
        self.scan(key::PLAN_HISTORY)
    }

    pub fn akte(&self, id: &AkteId) -> Result<Option<Akte>, CatalogError> {
        self.get(&key::join(&[key::AKTE, id.as_bytes()]))
    }

    pub fn akte_by_az(&self, az: &str) -> Result<Option<Akte>, CatalogError> {
        let k = key::join(&[key::AZ, az.as_bytes()]);
        match self.get_raw(&k)? {
            None => Ok(None),
            Some(id) => self.akte(&AkteId::from_bytes(uuid16(&id, &k)?)),
        }
    }

    /// All Akten, in id order.
    pub fn akten(&self) -> Result<Vec<Akte>, CatalogError> {
        self.scan(key::AKTE)
    }

    /// How many Akten each position holds (positions without Akten absent).
    pub fn akten_per_position(&self) -> Result<BTreeMap<Kennzeichen, usize>, CatalogError> {
        let mut counts = BTreeMap::new();
        for k in self.scan_keys(key::POSITION)? {
            let code = k.split(|&b| b == 0).next().unwrap_or_default();
            let code = std::str::from_utf8(code).ok().and_then(|c| Kennzeichen::parse(c).ok()).ok_or_else(|| {
                CatalogError::Corrupt {
                    key: String::from_utf8_lossy(&k).into_owned(),
                    detail: "bad position key".into(),
                }
            })?;
            *counts.entry(code).or_insert(0) += 1;
        }
        Ok(counts)
    }

    /// The last running number handed out for `position` (in `year`, if the
    /// Aktenzeichen template counts per year).
    pub fn counter(&self, position: &Kennzeichen, year: Option<i16>) -> Result<u32, CatalogError> {
        let k = counter_key(position, year);
        Ok(self.get::<u32>(&k)?.unwrap_or(0))
    }

    pub fn vorgang(&self, id: &VorgangId) -> Result<Option<Vorgang>, CatalogError> {
        self.get(&key::join(&[key::VORGANG, id.as_bytes()]))
    }

    pub fn vorgang_by_vz(&self, vz: &str) -> Result<Option<Vorgang>, CatalogError> {
        let k = key::join(&[key::VZ, vz.as_bytes()]);
        match self.get_raw(&k)? {
            None => Ok(None),
            Some(id) => self.vorgang(&VorgangId::from_bytes(uuid16(&id, &k)?)),
        }
    }

    /// The Vorgänge of an Akte, by number.
    pub fn vorgaenge_of(&self, akte: &AkteId) -> Result<Vec<Vorgang>, CatalogError> {
        let prefix = key::join(&[key::AKTE_VORGANG, akte.as_bytes()]);
        let mut out = Vec::new();
        for k in self.scan_keys(&prefix)? {
            let id = VorgangId::from_bytes(uuid16(&k, &prefix)?);
            match self.vorgang(&id)? {
                Some(v) => out.push(v),
                None => return Err(dangling(&prefix, &id.to_string())),
            }
        }
        out.sort_by_key(|v| v.number);
        Ok(out)
    }

    pub fn doc(&self, id: &DocId) -> Result<Option<Dokument>, CatalogError> {
        self.get(&key::join(&[key::DOC, id.as_bytes()]))
    }

    /// Documents whose id starts with the hex digits `prefix` (dashes ignored).
    pub fn docs_by_id_prefix(&self, prefix: &str) -> Result<Vec<DocId>, CatalogError> {
        let hex: String = prefix.chars().filter(|c| *c != '-').collect::<String>().to_ascii_lowercase();
        let whole_bytes: Vec<u8> =
            (0..hex.len() / 2).filter_map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok()).collect();
        if whole_bytes.len() != hex.len() / 2 {
            return Ok(Vec::new());
        }
        let scan = key::join(&[key::DOC, &whole_bytes]);
        let mut out = Vec::new();
        for k in self.scan_keys(&scan)? {
            let full = [whole_bytes.as_slice(), &k].concat();
            let id = DocId::from_bytes(uuid16(&full, &scan)?);
            if id.uuid().simple().to_string().starts_with(&hex) {
                out.push(id);
            }
        }
        Ok(out)
    }

    /// Calls `f` with every document, in id order, `batch` at a time: for
    /// walking a large catalog without holding it all.
    pub fn for_each_doc_batch<E: From<CatalogError>>(
        &self,
        batch: usize,
        mut f: impl FnMut(Vec<Dokument>) -> Result<(), E>,
    ) -> Result<(), E> {
        let mut start = key::DOC.to_vec();
        loop {
            let docs: Vec<Dokument> = self.scan_limited(key::DOC, &start, batch, decode)?;
            let Some(last) = docs.last() else { return Ok(()) };
            // The smallest key after the last one: its bytes followed by a zero.
            start = key::join(&[key::DOC, last.id.as_bytes(), b"\0"]);
            f(docs)?;
        }
    }

    /// Every document, in id order.
    pub fn docs(&self) -> Result<Vec<Dokument>, CatalogError> {
        self.scan(key::DOC)
    }

    /// The documents filed directly in `location` (for an Akte: not those in
    /// its Vorgänge).
    pub fn docs_in(&self, location: &Location) -> Result<Vec<Dokument>, CatalogError> {
        let prefix = key::join(&[key::LOCATION, &container_of(location)]);
        let mut out = Vec::new();
        for k in self.scan_keys(&prefix)? {
            let id = DocId::from_bytes(uuid16(&k, &prefix)?);
            match self.doc(&id)? {
                Some(d) => out.push(d),
                None => return Err(dangling(&prefix, &id.to_string())),
            }
        }
        out.sort_by(|a, b| (a.created_at, &a.title, a.id).cmp(&(b.created_at, &b.title, b.id)));
        Ok(out)
    }

    /// Every (document, version number) whose content is `blob`.
    pub fn blob_users(&self, blob: &BlobId) -> Result<Vec<(DocId, u32)>, CatalogError> {
        let prefix = key::join(&[key::BLOB, blob.as_bytes()]);
        let mut out = Vec::new();
        for k in self.scan_keys(&prefix)? {
            if k.len() != 20 {
                return Err(CatalogError::Corrupt {
                    key: "blob\\0...".into(),
                    detail: "bad blob reference key".into(),
                });
            }
            let doc = DocId::from_bytes(uuid16(&k[..16], &prefix)?);
            let version = u32::from_be_bytes(k[16..20].try_into().expect("4 bytes"));
            out.push((doc, version));
        }
        Ok(out)
    }

    /// Every blob the blob→document index names.
    pub fn indexed_blobs(&self) -> Result<BTreeMap<BlobId, Vec<(DocId, u32)>>, CatalogError> {
        let mut out: BTreeMap<BlobId, Vec<(DocId, u32)>> = BTreeMap::new();
        for k in self.scan_keys(key::BLOB)? {
            if k.len() != 52 {
                return Err(CatalogError::Corrupt {
                    key: "blob\\0...".into(),
                    detail: "bad blob reference key".into(),
                });
            }
            let blob = BlobId::from_bytes(k[..32].try_into().expect("32 bytes"));
            let doc = DocId::from_bytes(k[32..48].try_into().expect("16 bytes"));
            let version = u32::from_be_bytes(k[48..52].try_into().expect("4 bytes"));
            out.entry(blob).or_default().push((doc, version));
        }
        Ok(out)
    }

    /// Raw index entries, for `verify`: (Aktenzeichen → Akte), (Vorgangszeichen → Vorgang).
    pub fn az_index(&self) -> Result<Vec<(String, AkteId)>, CatalogError> {
        self.string_index(key::AZ).map(|v| v.into_iter().map(|(s, b)| (s, AkteId::from_bytes(b))).collect())
    }

    pub fn vz_index(&self) -> Result<Vec<(String, VorgangId)>, CatalogError> {
        self.string_index(key::VZ).map(|v| v.into_iter().map(|(s, b)| (s, VorgangId::from_bytes(b))).collect())
    }

    /// Raw (container, document) pairs of the location index, for `verify`;
    /// the Posteingang's container is `None`.
    pub fn location_index(&self) -> Result<Vec<LocationEntry>, CatalogError> {
        let mut out = Vec::new();
        for k in self.scan_keys(key::LOCATION)? {
            if k.len() != 32 {
                return Err(CatalogError::Corrupt { key: "loc\\0...".into(), detail: "bad location key".into() });
            }
            let container: [u8; 16] = k[..16].try_into().expect("16 bytes");
            let doc = DocId::from_bytes(k[16..].try_into().expect("16 bytes"));
            out.push(((container != POSTEINGANG).then_some(container), doc));
        }
        Ok(out)
    }

    fn string_index(&self, prefix: &[u8]) -> Result<Vec<(String, [u8; 16])>, CatalogError> {
        self.scan_with(prefix, prefix, |k, v| {
            Ok((String::from_utf8_lossy(&k[prefix.len()..]).into_owned(), uuid16(v, k)?))
        })
    }

    pub fn audit_head(&self) -> Result<ChainHead, CatalogError> {
        Ok(self.get(key::META_HEAD)?.unwrap_or_else(ChainHead::empty))
    }

    /// Every audit event, in order.
    pub fn events(&self) -> Result<Vec<AuditEvent>, CatalogError> {
        self.scan(key::EVENT)
    }

    /// The audit events from number `first` on, in order.
    pub fn events_since(&self, first: u64) -> Result<Vec<AuditEvent>, CatalogError> {
        self.scan_with(key::EVENT, &key::join(&[key::EVENT, &first.to_be_bytes()]), decode)
    }

    /// The events that name `kind`/`id` as their object or a related object.
    pub fn events_for(&self, kind: ObjectKind, id: &str) -> Result<Vec<AuditEvent>, CatalogError> {
        let prefix = key::join(&[key::EVENT_OBJECT, &object_prefix(kind, id)]);
        let mut out = Vec::new();
        for k in self.scan_keys(&prefix)? {
            let seq: [u8; 8] = k.as_slice().try_into().map_err(|_| dangling(&prefix, "event number"))?;
            let ev_key = key::join(&[key::EVENT, &seq]);
            match self.get(&ev_key)? {
                Some(event) => out.push(event),
                None => return Err(dangling(&prefix, &u64::from_be_bytes(seq).to_string())),
            }
        }
        Ok(out)
    }

    /// The extracted text of a document version, where extraction kept any.
    pub fn text(&self, doc: &DocId, version: u32) -> Result<Option<String>, CatalogError> {
        let k = text_key(doc, version);
        match self.kv.get(&k).map_err(|e| self.storage(e))? {
            None => Ok(None),
            Some(bytes) => String::from_utf8(bytes).map(Some).map_err(|_| CatalogError::Corrupt {
                key: format!("txt/{doc}/{version}"),
                detail: "text is not UTF-8".into(),
            }),
        }
    }

    /// The number of the last change-log entry (0 when there is none).
    pub fn change_seq(&self) -> Result<u64, CatalogError> {
        Ok(self.get(key::META_CHANGE)?.unwrap_or(0))
    }

    /// The change-log entries after `after`, in order: each names the
    /// documents one committed operation wrote.
    pub fn changes_since(&self, after: u64) -> Result<Vec<(u64, Vec<DocId>)>, CatalogError> {
        let start = key::join(&[key::CHANGE, &(after + 1).to_be_bytes()]);
        self.scan_with(key::CHANGE, &start, |k, v| {
            let seq = k[key::CHANGE.len()..]
                .try_into()
                .map(u64::from_be_bytes)
                .map_err(|_| dangling(key::CHANGE, "a malformed change number"))?;
            Ok((seq, decode(k, v)?))
        })
    }

    /// The intake of a file with the bytes `blob`, if it was taken in.
    pub fn intake(&self, blob: &BlobId) -> Result<Option<IntakeRecord>, CatalogError> {
        self.get(&key::join(&[key::INTAKE, blob.as_bytes()]))
    }

    /// Every intake record.
    pub fn intakes(&self) -> Result<Vec<IntakeRecord>, CatalogError> {
        self.scan(key::INTAKE)
    }

    /// How often reading a file with the bytes `blob` crashed or hung the
    /// text reader (kept across restarts; cleared by its intake or a retry).
    pub fn intake_attempts(&self, blob: &BlobId) -> Result<u32, CatalogError> {
        Ok(self.get(&key::join(&[key::INTAKE_ATTEMPTS, blob.as_bytes()]))?.unwrap_or(0))
    }

    /// The Posteingang record of a document, if it has one.
    pub fn post_item(&self, doc: &DocId) -> Result<Option<PostItem>, CatalogError> {
        self.get(&key::join(&[key::POST_ITEM, doc.as_bytes()]))
    }

    /// Every Posteingang record (waiting and discarded).
    pub fn post_items(&self) -> Result<Vec<PostItem>, CatalogError> {
        self.scan(key::POST_ITEM)
    }

    /// Counts filings by people (the model's training examples); the model
    /// on disk records the count it has learned up to.
    pub fn training_seq(&self) -> Result<u64, CatalogError> {
        Ok(self.get(key::META_TRAINING)?.unwrap_or(0))
    }

    /// Starts collecting the writes of one operation.
    pub fn txn(&self) -> Result<Txn<'_>, CatalogError> {
        Ok(Txn {
            catalog: self,
            ops: Vec::new(),
            head: self.audit_head()?,
            events: Vec::new(),
            changed: BTreeSet::new(),
            training: self.training_seq()?,
        })
    }
}

fn decode<T: DeserializeOwned>(key: &[u8], bytes: &[u8]) -> Result<T, CatalogError> {
    serde_json::from_slice(bytes).map_err(|e| CatalogError::Corrupt {
        key: String::from_utf8_lossy(key).replace('\0', "/"),
        detail: e.to_string(),
    })
}

fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    serde_json::to_vec(value).expect("catalog records serialise")
}

fn dangling(prefix: &[u8], what: &str) -> CatalogError {
    CatalogError::Corrupt {
        key: String::from_utf8_lossy(prefix).replace('\0', "/"),
        detail: format!("index names {what}, which does not exist"),
    }
}

/// The writes of one operation, applied atomically by [`Txn::commit`].
pub struct Txn<'a> {
    catalog: &'a Catalog,
    ops: Vec<Op>,
    head: ChainHead,
    events: Vec<AuditEvent>,
    /// Documents written, for the change log the search index follows.
    changed: BTreeSet<DocId>,
    /// The training count as this operation leaves it.
    training: u64,
}

impl Txn<'_> {
    fn insert(&mut self, key: Vec<u8>, value: Vec<u8>) {
        self.ops.push((key, Some(value)));
    }

    fn remove(&mut self, key: Vec<u8>) {
        self.ops.push((key, None));
    }

    pub fn put_plan(&mut self, plan: &Plan) {
        self.insert(key::PLAN.to_vec(), encode(plan));
    }

    pub fn add_plan_record(&mut self, index: u64, record: &PlanRecord) {
        self.insert(key::join(&[key::PLAN_HISTORY, &index.to_be_bytes()]), encode(record));
    }

    pub fn set_counter(&mut self, position: &Kennzeichen, year: Option<i16>, value: u32) {
        self.insert(counter_key(position, year), encode(&value));
    }

    /// Writes `akte`, keeping the Aktenzeichen and position indexes in step
    /// with `old`, its previous version (`None` for a new Akte).
    pub fn put_akte(&mut self, akte: &Akte, old: Option<&Akte>) {
        if let Some(old) = old {
            if old.aktenzeichen != akte.aktenzeichen {
                self.remove(key::join(&[key::AZ, old.aktenzeichen.as_str().as_bytes()]));
            }
            if old.position != akte.position {
                self.remove(position_key(&old.position, &old.id));
            }
        }
        self.insert(key::join(&[key::AKTE, akte.id.as_bytes()]), encode(akte));
        self.insert(key::join(&[key::AZ, akte.aktenzeichen.as_str().as_bytes()]), akte.id.as_bytes().to_vec());
        self.insert(position_key(&akte.position, &akte.id), Vec::<u8>::new());
    }

    /// Writes `vorgang`, keeping the Vorgangszeichen and Akte indexes in step.
    pub fn put_vorgang(&mut self, vorgang: &Vorgang, old: Option<&Vorgang>) {
        if let Some(old) = old
            && old.vorgangszeichen != vorgang.vorgangszeichen
        {
            self.remove(key::join(&[key::VZ, old.vorgangszeichen.as_str().as_bytes()]));
        }
        self.insert(key::join(&[key::VORGANG, vorgang.id.as_bytes()]), encode(vorgang));
        self.insert(key::join(&[key::VZ, vorgang.vorgangszeichen.as_str().as_bytes()]), vorgang.id.as_bytes().to_vec());
        self.insert(key::join(&[key::AKTE_VORGANG, vorgang.akte.as_bytes(), vorgang.id.as_bytes()]), Vec::<u8>::new());
    }

    /// Writes `doc`, keeping the location and blob indexes in step with
    /// `old`, its previous version (`None` for a new document).
    pub fn put_doc(&mut self, doc: &Dokument, old: Option<&Dokument>) {
        if let Some(old) = old {
            if old.location != doc.location {
                self.remove(key::join(&[key::LOCATION, &container_of(&old.location), old.id.as_bytes()]));
            }
            for v in &old.versions {
                if doc.version(v.number).map(|n| n.blob) != Some(v.blob) {
                    self.remove(blob_key(&v.blob, &old.id, v.number));
                }
            }
        }
        self.changed.insert(doc.id);
        self.insert(key::join(&[key::DOC, doc.id.as_bytes()]), encode(doc));
        self.insert(key::join(&[key::LOCATION, &container_of(&doc.location), doc.id.as_bytes()]), Vec::<u8>::new());
        for v in &doc.versions {
            self.insert(blob_key(&v.blob, &doc.id, v.number), Vec::<u8>::new());
        }
    }

    /// Stores the extracted text of a document version (replacing any).
    pub fn put_text(&mut self, doc: &DocId, version: u32, text: &str) {
        self.changed.insert(*doc);
        self.insert(text_key(doc, version), text.as_bytes().to_vec());
    }

    /// Records that the file with bytes `record.blob` was taken in, and
    /// forgets its failed attempts.
    pub fn put_intake(&mut self, record: &IntakeRecord) {
        self.insert(key::join(&[key::INTAKE, record.blob.as_bytes()]), encode(record));
        self.remove(key::join(&[key::INTAKE_ATTEMPTS, record.blob.as_bytes()]));
    }

    /// Sets the failed attempts of the file with bytes `blob` (0 forgets them).
    pub fn set_intake_attempts(&mut self, blob: &BlobId, attempts: u32) {
        let k = key::join(&[key::INTAKE_ATTEMPTS, blob.as_bytes()]);
        if attempts == 0 { self.remove(k) } else { self.insert(k, encode(&attempts)) }
    }

    pub fn put_post_item(&mut self, item: &PostItem) {
        self.insert(key::join(&[key::POST_ITEM, item.doc.as_bytes()]), encode(item));
    }

    pub fn remove_post_item(&mut self, doc: &DocId) {
        self.remove(key::join(&[key::POST_ITEM, doc.as_bytes()]));
    }

    /// Records that `n` documents were filed by people in this operation.
    pub fn count_training(&mut self, n: u64) {
        if n > 0 {
            self.training += n;
            self.insert(key::META_TRAINING.to_vec(), encode(&self.training));
        }
    }

    /// Removes a document with its texts and index entries (disposal). Its
    /// blobs stay until `gc` finds them unreferenced.
    pub fn delete_doc(&mut self, doc: &Dokument) {
        self.changed.insert(doc.id);
        self.remove(key::join(&[key::DOC, doc.id.as_bytes()]));
        self.remove(key::join(&[key::LOCATION, &container_of(&doc.location), doc.id.as_bytes()]));
        for v in &doc.versions {
            self.remove(blob_key(&v.blob, &doc.id, v.number));
            self.remove(text_key(&doc.id, v.number));
        }
        self.remove(key::join(&[key::POST_ITEM, doc.id.as_bytes()]));
    }

    /// Appends an audit event to this operation, chained after the last one.
    pub fn record(&mut self, event: NewEvent) {
        let event = self.head.seal(event);
        let seq = event.seq.to_be_bytes();
        self.insert(object_key(&event.object, event.seq), Vec::<u8>::new());
        for related in &event.related {
            self.insert(object_key(related, event.seq), Vec::<u8>::new());
        }
        self.insert(key::join(&[key::EVENT, &seq]), encode(&event));
        self.events.push(event);
    }

    /// Commits the operation: applies the batch atomically, then flushes it
    /// to disk. Returns the events recorded, once they are durable.
    ///
    /// The caller must have made every blob this batch names durable first
    /// ([`crate::blobs::BlobStore::make_durable`]). Either it fails and the
    /// catalog may hold none or all of the batch (never part of it), or it
    /// returns and all of it is on disk.
    pub fn commit(mut self) -> Result<Vec<AuditEvent>, CatalogError> {
        let head = encode(&self.head);
        self.insert(key::META_HEAD.to_vec(), head);
        if !self.changed.is_empty() {
            // The search index replays this log in order (see `index`).
            let seq = self.catalog.change_seq()? + 1;
            let docs: Vec<DocId> = std::mem::take(&mut self.changed).into_iter().collect();
            self.insert(key::join(&[key::CHANGE, &seq.to_be_bytes()]), encode(&docs));
            self.insert(key::META_CHANGE.to_vec(), encode(&seq));
        }
        let catalog = self.catalog;
        catalog.kv.apply(self.ops).map_err(|e| catalog.storage(e))?;
        Ok(self.events)
    }
}

#[doc(hidden)]
pub mod tamper {
    //! Deliberate corruption, for the tests that prove `verify` notices it.
    //! Bypasses every invariant; nothing else may call this.
    use super::*;

    /// Replaces audit event `seq` with `edit` applied to it, keeping its
    /// stored hash (as someone editing the database by hand would).
    pub fn edit_audit_event(
        dir: &Path,
        engine: CatalogEngine,
        seq: u64,
        edit: impl FnOnce(&mut AuditEvent),
    ) -> Result<(), CatalogError> {
        let catalog = Catalog::open(dir, engine)?;
        let k = key::join(&[key::EVENT, &seq.to_be_bytes()]);
        let mut event: AuditEvent = catalog.get(&k)?.ok_or_else(|| dangling(&k, "event"))?;
        edit(&mut event);
        catalog.kv.apply(vec![(k, Some(encode(&event)))]).map_err(|e| catalog.storage(e))
    }

    /// Points version `version` of `doc` at `blob`, and the blob index too.
    pub fn set_version_blob(
        dir: &Path,
        engine: CatalogEngine,
        doc: &DocId,
        version: u32,
        blob: BlobId,
    ) -> Result<(), CatalogError> {
        let catalog = Catalog::open(dir, engine)?;
        let mut d = catalog.doc(doc)?.ok_or_else(|| dangling(b"doc", &doc.to_string()))?;
        let old = d.clone();
        for v in &mut d.versions {
            if v.number == version {
                v.blob = blob;
            }
        }
        let mut txn = catalog.txn()?;
        txn.put_doc(&d, Some(&old));
        // Apply without an audit event: this is the tampering.
        catalog.kv.apply(txn.ops).map_err(|e| catalog.storage(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn older_catalogs_are_upgraded_and_a_newer_one_refused() {
        let dir = tempfile::tempdir().unwrap();
        let catalog = Catalog::create(dir.path(), CatalogEngine::Redb).unwrap();
        catalog.kv.apply(vec![(key::META_FORMAT.to_vec(), Some(b"1".to_vec()))]).unwrap();
        drop(catalog);
        let catalog = Catalog::open(dir.path(), CatalogEngine::Redb).unwrap();
        assert_eq!(catalog.kv.get(key::META_FORMAT).unwrap(), Some(CATALOG_FORMAT.to_string().into_bytes()));
        assert_eq!(catalog.change_seq().unwrap(), 0);
        catalog.kv.apply(vec![(key::META_FORMAT.to_vec(), Some(b"2".to_vec()))]).unwrap();
        drop(catalog);
        let catalog = Catalog::open(dir.path(), CatalogEngine::Redb).unwrap();
        assert_eq!(catalog.kv.get(key::META_FORMAT).unwrap(), Some(b"4".to_vec()));
        catalog.kv.apply(vec![(key::META_FORMAT.to_vec(), Some(b"3".to_vec()))]).unwrap();
        drop(catalog);
        let catalog = Catalog::open(dir.path(), CatalogEngine::Redb).unwrap();
        assert_eq!(catalog.kv.get(key::META_FORMAT).unwrap(), Some(b"4".to_vec()));
        catalog.kv.apply(vec![(key::META_FORMAT.to_vec(), Some(b"5".to_vec()))]).unwrap();
        drop(catalog);
        assert!(
            matches!(Catalog::open(dir.path(), CatalogEngine::Redb), Err(CatalogError::Format { found }) if found == "5")
        );
    }

    #[test]
    fn the_change_log_names_the_documents_of_each_commit() {
        let dir = tempfile::tempdir().unwrap();
        let catalog = Catalog::create(dir.path(), CatalogEngine::Redb).unwrap();
        let doc = DocId::new_random();
        let mut txn = catalog.txn().unwrap();
        txn.put_text(&doc, 1, "Bauantrag");
        txn.commit().unwrap();
        // A commit without documents adds no entry.
        catalog.txn().unwrap().commit().unwrap();
        let other = DocId::new_random();
        let mut txn = catalog.txn().unwrap();
        txn.put_text(&other, 1, "Widerspruch");
        txn.put_text(&doc, 2, "Bauantrag, geändert");
        txn.commit().unwrap();
        assert_eq!(catalog.change_seq().unwrap(), 2);
        let mut second = vec![doc, other];
        second.sort();
        assert_eq!(catalog.changes_since(0).unwrap(), vec![(1, vec![doc]), (2, second.clone())]);
        assert_eq!(catalog.changes_since(1).unwrap(), vec![(2, second)]);
        assert!(catalog.changes_since(2).unwrap().is_empty());
        assert_eq!(catalog.text(&doc, 2).unwrap().as_deref(), Some("Bauantrag, geändert"));
        assert_eq!(catalog.text(&doc, 3).unwrap(), None);
    }
}
