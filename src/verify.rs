//! `verify` and `gc`: checking the store against itself, and removing what
//! no record needs.
//!
//! [`verify`] re-hashes every blob, checks that every version names a blob
//! that exists and is intact, cross-checks the catalog's records and
//! indexes, and walks the audit chain. It never stops at the first problem:
//! findings are data ([`Finding`]), each naming the object, what is wrong
//! and the command or step that repairs it.
//!
//! [`collect_garbage`] removes orphan blobs (named by no document version or
//! plan source) older than a grace period, so that blobs of an operation
//! still in flight are never touched.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use crate::audit::{self, ChainHead, ChainProblem};
use crate::blobs::{BlobError, BlobStore};
use crate::catalog::{Catalog, CatalogError};
use crate::engine::Progress;
use crate::model::{BlobId, DocId, Location};
use crate::plan::Plan;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Error,
    Warning,
}

/// One problem `verify` found.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    pub severity: Severity,
    /// What it is about: `blob <hex>`, `document <id> version 2`, `audit event 17`, ...
    pub object: String,
    pub problem: String,
    /// The command or step that repairs it.
    pub repair: String,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct VerifyReport {
    pub findings: Vec<Finding>,
    pub blobs_checked: u64,
    pub bytes_checked: u64,
    pub documents: usize,
    pub versions: usize,
    pub akten: usize,
    pub vorgaenge: usize,
    pub events: usize,
    pub chain_head: Option<ChainHead>,
}

impl VerifyReport {
    pub fn errors(&self) -> usize {
        self.findings.iter().filter(|f| f.severity == Severity::Error).count()
    }
    pub fn warnings(&self) -> usize {
        self.findings.iter().filter(|f| f.severity == Severity::Warning).count()
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RemovedBlob {
    pub blob: BlobId,
    pub size: u64,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct GcReport {
    pub dry_run: bool,
    pub removed: Vec<RemovedBlob>,
    pub bytes_freed: u64,
    /// Orphans younger than the grace period, left alone.
    pub kept_young: usize,
    pub grace_hours: u64,
    /// Catalog size before and after compaction (not compacted in a dry run).
    pub catalog_bytes: Option<(u64, u64)>,
}

/// `verify` or `gc` could not read what they check.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    #[error(transparent)]
    Blob(#[from] BlobError),
}

const RESTORE_CATALOG: &str = "restore the catalog from the last backup (akten keeps no second copy of it)";

fn finding(
    severity: Severity,
    object: impl Into<String>,
    problem: impl Into<String>,
    repair: impl Into<String>,
) -> Finding {
    Finding { severity, object: object.into(), problem: problem.into(), repair: repair.into() }
}

/// Blob → the (document, version) pairs and plan sources that name it.
fn referenced_blobs(catalog: &Catalog) -> Result<BTreeMap<BlobId, Vec<String>>, CatalogError> {
    let mut refs: BTreeMap<BlobId, Vec<String>> = BTreeMap::new();
    for doc in catalog.docs()? {
        for v in &doc.versions {
            refs.entry(v.blob).or_default().push(format!("document {} version {} ({})", doc.id, v.number, doc.title));
        }
    }
    for record in catalog.plan_history()? {
        refs.entry(record.source).or_default().push(format!("plan version {} ({})", record.version, record.file_name));
    }
    // A batch scan split at cover sheets is kept as it arrived: the scan
    // product its documents' scan records name.
    for record in catalog.intakes()? {
        refs.entry(record.blob).or_default().push(format!("scan product {} ({})", record.file_name, record.station));
    }
    Ok(refs)
}

/// Checks blobs, catalog and audit chain; see the module docs.
pub fn verify(
    catalog: &Catalog,
    blobs: &BlobStore,
    plan: &Plan,
    progress: &dyn Progress,
) -> Result<VerifyReport, VerifyError> {
    let mut report = VerifyReport::default();
    let refs = referenced_blobs(catalog)?;

    // Blobs: every named blob exists and hashes to its name; nothing else lies around.
    let files = blobs.list()?;
    let on_disk: HashMap<BlobId, &std::path::Path> =
        files.iter().filter_map(|f| f.id.map(|id| (id, f.path.as_path()))).collect();
    let total = refs.len() as u64;
    for (done, (blob, users)) in refs.iter().enumerate() {
        progress.report("verifying blobs", done as u64, total);
        let hex = blob.to_hex();
        let rel = format!("blobs/{}/{hex}", &hex[..2]);
        if !on_disk.contains_key(blob) {
            for user in users {
                report.findings.push(finding(
                    Severity::Error,
                    user.clone(),
                    format!("its content, blob {}, is missing", blob.to_hex()),
                    format!("restore {rel} from a backup"),
                ));
            }
            continue;
        }
        match blobs.verify(blob) {
            Ok(size) => {
                report.blobs_checked += 1;
                report.bytes_checked += size;
            }
            Err(BlobError::Corrupt { actual, .. }) => {
                for user in users {
                    report.findings.push(finding(
                        Severity::Error,
                        user.clone(),
                        format!(
                            "its content, blob {}, is corrupted (it now hashes to {})",
                            blob.to_hex(),
                            actual.to_hex()
                        ),
                        format!("restore {rel} from a backup"),
                    ));
                }
            }
            Err(BlobError::Missing { .. }) => {
                for user in users {
                    report.findings.push(finding(
                        Severity::Error,
                        user.clone(),
                        format!("its content, blob {}, disappeared while verifying", blob.to_hex()),
                        format!("restore {rel} from a backup"),
                    ));
                }
            }
            Err(e) => return Err(e.into()),
        }
    }
    progress.report("verifying blobs", total, total);
    for file in &files {
        match file.id {
            Some(id) if !refs.contains_key(&id) => report.findings.push(finding(
                Severity::Warning,
                format!("blob {}", id.to_hex()),
                "orphan: no document names it (left by an interrupted operation or a removed plan)",
                "`akten gc` removes it once it is older than the grace period",
            )),
            Some(_) => {}
            None => report.findings.push(finding(
                Severity::Warning,
                file.path.display().to_string(),
                "stray file in the blob store: its name is not the hash of a blob",
                "move it out of blobs/",
            )),
        }
    }

    // Catalog records and their indexes.
    let akten = catalog.akten()?;
    let vorgaenge: Vec<_> = akten.iter().map(|a| catalog.vorgaenge_of(&a.id)).collect::<Result<Vec<_>, _>>()?.concat();
    let docs = catalog.docs()?;
    report.akten = akten.len();
    report.vorgaenge = vorgaenge.len();
    report.documents = docs.len();
    report.versions = docs.iter().map(|d| d.versions.len()).sum();
    let akte_ids: BTreeSet<_> = akten.iter().map(|a| *a.id.as_bytes()).collect();
    let vorgang_ids: BTreeMap<[u8; 16], [u8; 16]> =
        vorgaenge.iter().map(|v| (*v.id.as_bytes(), *v.akte.as_bytes())).collect();
    for akte in &akten {
        match plan.position(&akte.position) {
            None => report.findings.push(finding(
                Severity::Error,
                format!("Akte {}", akte.aktenzeichen),
                format!("its plan position {} is not in the Aktenplan", akte.position),
                RESTORE_CATALOG,
            )),
            Some(p) if !p.betreffseinheit => report.findings.push(finding(
                Severity::Error,
                format!("Akte {}", akte.aktenzeichen),
                format!("its plan position {} is not a Betreffseinheit", akte.position),
                RESTORE_CATALOG,
            )),
            Some(_) => {}
        }
    }
    for (az, id) in catalog.az_index()? {
        if !akte_ids.contains(id.as_bytes())
            || akten.iter().find(|a| a.id == id).is_some_and(|a| a.aktenzeichen.as_str() != az)
        {
            report.findings.push(finding(
                Severity::Error,
                format!("Aktenzeichen {az}"),
                format!("the index points to Akte {id}, which does not carry this Aktenzeichen"),
                RESTORE_CATALOG,
            ));
        }
    }
    for (vz, id) in catalog.vz_index()? {
        if !vorgang_ids.contains_key(id.as_bytes()) {
            report.findings.push(finding(
                Severity::Error,
                format!("Vorgangszeichen {vz}"),
                format!("the index points to Vorgang {id}, which does not exist"),
                RESTORE_CATALOG,
            ));
        }
    }
    let mut located: BTreeSet<(Option<[u8; 16]>, DocId)> = BTreeSet::new();
    for doc in &docs {
        let container = match doc.location {
            Location::Posteingang => None,
            Location::Discarded => Some(crate::catalog::DISCARDED),
            Location::Akte { akte } => {
                if !akte_ids.contains(akte.as_bytes()) {
                    report.findings.push(finding(
                        Severity::Error,
                        format!("document {}", doc.id),
                        format!("it is filed in Akte {akte}, which does not exist"),
                        RESTORE_CATALOG,
                    ));
                }
                Some(*akte.as_bytes())
            }
            Location::Vorgang { akte, vorgang } => {
                if vorgang_ids.get(vorgang.as_bytes()) != Some(akte.as_bytes()) {
                    report.findings.push(finding(
                        Severity::Error,
                        format!("document {}", doc.id),
                        format!("it is filed in Vorgang {vorgang} of Akte {akte}, which does not exist"),
                        RESTORE_CATALOG,
                    ));
                }
                Some(*vorgang.as_bytes())
            }
        };
        located.insert((container, doc.id));
    }
    let indexed: BTreeSet<_> = catalog.location_index()?.into_iter().collect();
    for (container, doc) in indexed.symmetric_difference(&located) {
        let side =
            if indexed.contains(&(*container, *doc)) { "lists it in a place it is not" } else { "does not list it" };
        report.findings.push(finding(
            Severity::Error,
            format!("document {doc}"),
            format!("the location index {side}"),
            RESTORE_CATALOG,
        ));
    }
    let blob_index = catalog.indexed_blobs()?;
    let expected: BTreeSet<(BlobId, DocId, u32)> =
        docs.iter().flat_map(|d| d.versions.iter().map(move |v| (v.blob, d.id, v.number))).collect();
    let actual: BTreeSet<(BlobId, DocId, u32)> =
        blob_index.iter().flat_map(|(b, users)| users.iter().map(move |(d, n)| (*b, *d, *n))).collect();
    for (blob, doc, n) in expected.symmetric_difference(&actual) {
        report.findings.push(finding(
            Severity::Error,
            format!("document {doc} version {n}"),
            format!("the blob index and the document disagree about blob {}", blob.to_hex()),
            RESTORE_CATALOG,
        ));
    }

    // The audit chain.
    let events = catalog.events()?;
    let head = catalog.audit_head()?;
    report.events = events.len();
    for problem in audit::check_chain(&events, &head) {
        let (object, text) = match problem {
            ChainProblem::Altered { seq } => {
                (format!("audit event {seq}"), "its content does not match its hash: it was altered".to_string())
            }
            ChainProblem::Unlinked { seq } => (
                format!("audit event {seq}"),
                "it does not carry the hash of the event before it: the chain was altered here".to_string(),
            ),
            ChainProblem::Gap { after, next } => {
                (format!("audit events {}..{}", after + 1, next.saturating_sub(1)), "they are missing".to_string())
            }
            ChainProblem::HeadMismatch { head, last } => (
                "audit chain head".to_string(),
                format!("the catalog records {head} but the last event is {last}: events were removed or added"),
            ),
        };
        report.findings.push(finding(
            Severity::Error,
            object,
            text,
            "compare with the chain head printed by earlier `verify` runs and exports, then restore the catalog from a backup",
        ));
    }
    report.chain_head = Some(head);
    Ok(report)
}

/// Removes orphan blobs older than `grace` (or only lists them, `dry_run`).
pub fn collect_garbage(
    catalog: &Catalog,
    blobs: &BlobStore,
    grace: Duration,
    dry_run: bool,
    progress: &dyn Progress,
) -> Result<GcReport, VerifyError> {
    let refs = referenced_blobs(catalog)?;
    let now = SystemTime::now();
    let mut report = GcReport { dry_run, grace_hours: grace.as_secs() / 3600, ..GcReport::default() };
    let files = blobs.list()?;
    let total = files.len() as u64;
    for (done, file) in files.iter().enumerate() {
        progress.report("collecting garbage", done as u64, total);
        let Some(id) = file.id else { continue };
        if refs.contains_key(&id) {
            continue;
        }
        let age = file.modified.and_then(|m| now.duration_since(m).ok()).unwrap_or(Duration::ZERO);
        if age < grace {
            report.kept_young += 1;
            continue;
        }
        let size = std::fs::metadata(&file.path).map(|m| m.len()).unwrap_or(0);
        if !dry_run {
            blobs.remove(&file.path)?;
        }
        report.bytes_freed += size;
        report.removed.push(RemovedBlob { blob: id, size });
    }
    progress.report("collecting garbage", total, total);
    Ok(report)
}
