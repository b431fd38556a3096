//! The records model: Akte, Vorgang, Dokument, Version and their identifiers.
//!
//! Pure values, no I/O. The hierarchy follows DOMEA / xdomea:
//! plan position (Betreffseinheit) → Akte → Vorgang → Dokument → Version.
//!
//! Invariants kept by the types here:
//! - Ids are newtypes ([`AkteId`], [`VorgangId`], [`DocId`], [`BlobId`]); raw
//!   strings and byte arrays never cross module boundaries.
//! - A [`Kennzeichen`] is always well-formed (`[0-9]+(\.[0-9]+)*`), so its
//!   parent is derivable from the code alone.
//! - Retention ends on 31 December of the zdA year plus the retention years;
//!   unlimited retention has no end ([`Retention::end_after_zda`]).

use std::fmt;
use std::str::FromStr;

use jiff::Timestamp;
use jiff::civil::Date;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

macro_rules! uuid_id {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(Uuid);

        impl $name {
            /// A fresh random (v4) id.
            pub fn new_random() -> Self {
                Self(Uuid::new_v4())
            }
            /// The id from its 16 bytes, as stored in catalog keys.
            pub fn from_bytes(bytes: [u8; 16]) -> Self {
                Self(Uuid::from_bytes(bytes))
            }
            /// The 16 bytes, as stored in catalog keys.
            pub fn as_bytes(&self) -> &[u8; 16] {
                self.0.as_bytes()
            }
            /// The first 8 hex digits: what lists print.
            pub fn short(&self) -> String {
                self.0.simple().to_string()[..8].to_string()
            }
            /// The underlying UUID (xdomea needs it as is).
            pub fn uuid(&self) -> Uuid {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.hyphenated().fmt(f)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self.0.hyphenated())
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self)
            }
        }
    };
}

uuid_id!(
    /// Identifies an Akte (file) for its whole life, whatever its Aktenzeichen.
    AkteId
);
uuid_id!(
    /// Identifies a Vorgang (case) inside an Akte.
    VorgangId
);
uuid_id!(
    /// Identifies a Dokument across moves and versions.
    DocId
);

/// The content id of a stored original: the blake3 hash of its bytes.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BlobId([u8; 32]);

impl BlobId {
    pub fn from_hash(hash: blake3::Hash) -> Self {
        Self(*hash.as_bytes())
    }
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
    /// All 64 hex digits.
    pub fn to_hex(&self) -> String {
        blake3::Hash::from_bytes(self.0).to_hex().to_string()
    }
    /// The first 12 hex digits, for human output.
    pub fn short(&self) -> String {
        self.to_hex()[..12].to_string()
    }
    /// Parses exactly 64 lowercase or uppercase hex digits.
    pub fn from_hex(s: &str) -> Option<Self> {
        blake3::Hash::from_hex(s).ok().map(Self::from_hash)
    }
}

impl fmt::Display for BlobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for BlobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BlobId({})", self.to_hex())
    }
}

impl Serialize for BlobId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_hex())
    }
}

impl<'de> Deserialize<'de> for BlobId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        BlobId::from_hex(&s).ok_or_else(|| serde::de::Error::custom("blob id must be 64 hex digits"))
    }
}

/// An Aktenplankennzeichen: the code of a file-plan position, e.g. `000.01`.
///
/// Grammar: one or more groups of ASCII digits separated by single dots. The
/// parent is the code without its last dotted group, or, for a code without a
/// dot, without its last digit: `000.01` → `000` → `00` → `0`.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Kennzeichen(String);

/// Why a string is not a [`Kennzeichen`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{0}' is not a valid Kennzeichen: use digits in dot-separated groups, e.g. 0, 00, 000, 000.01")]
pub struct BadKennzeichen(pub String);

impl Kennzeichen {
    pub const MAX_LEN: usize = 32;

    pub fn parse(s: &str) -> Result<Self, BadKennzeichen> {
        let ok = !s.is_empty()
            && s.len() <= Self::MAX_LEN
            && s.split('.').all(|group| !group.is_empty() && group.bytes().all(|b| b.is_ascii_digit()));
        if ok { Ok(Self(s.to_string())) } else { Err(BadKennzeichen(s.to_string())) }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The parent position's code, `None` for a Hauptgruppe (one digit).
    pub fn parent(&self) -> Option<Kennzeichen> {
        if let Some((head, _)) = self.0.rsplit_once('.') {
            return Some(Self(head.to_string()));
        }
        if self.0.len() > 1 {
            return Some(Self(self.0[..self.0.len() - 1].to_string()));
        }
        None
    }

    /// This code and all its ancestors, root first: `0`, `00`, `000`, `000.01`.
    pub fn lineage(&self) -> Vec<Kennzeichen> {
        let mut chain = vec![self.clone()];
        while let Some(parent) = chain.last().and_then(Kennzeichen::parent) {
            chain.push(parent);
        }
        chain.reverse();
        chain
    }

    /// True if `self` is `other` or lies below it.
    pub fn is_within(&self, other: &Kennzeichen) -> bool {
        self.lineage().iter().any(|k| k == other)
    }
}

impl TryFrom<String> for Kennzeichen {
    type Error = BadKennzeichen;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Kennzeichen::parse(&s)
    }
}

impl From<Kennzeichen> for String {
    fn from(k: Kennzeichen) -> String {
        k.0
    }
}

impl fmt::Display for Kennzeichen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Kennzeichen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Kennzeichen({})", self.0)
    }
}

macro_rules! string_key {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// Wraps a key produced by the configured template or read back
            /// from the catalog.
            pub fn new(s: impl Into<String>) -> Self {
                Self(s.into())
            }
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self.0)
            }
        }
    };
}

string_key!(
    /// The human key of an Akte, e.g. `000.01-0012/2026`.
    Aktenzeichen
);
string_key!(
    /// The human key of a Vorgang, e.g. `000.01-0012/2026-3`.
    Vorgangszeichen
);
string_key!(
    /// The short code of an organisational unit (Organisationseinheit), e.g. `34`.
    OrgUnit
);
string_key!(
    /// Who did something: the authenticated identity (in the CLI, the OS user).
    Actor
);

/// How long records are kept after zdA (Aufbewahrungsdauer).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Retention {
    Years(u16),
    Unlimited,
}

impl Retention {
    /// The last day of retention for records closed (zdA) on `zda`:
    /// 31 December of the zdA year plus the retention years. `None` means
    /// kept without limit.
    pub fn end_after_zda(self, zda: Date) -> Option<Date> {
        match self {
            Retention::Unlimited => None,
            Retention::Years(years) => {
                let year = i32::from(zda.year()) + i32::from(years);
                // Plans allow at most 1000 years, so this stays far below
                // jiff's year 9999; clamp rather than fail if it ever did not.
                let year = i16::try_from(year.min(9999)).unwrap_or(9999);
                Some(Date::new(year, 12, 31).unwrap_or(Date::MAX))
            }
        }
    }
}

impl fmt::Display for Retention {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Retention::Years(1) => f.write_str("1 Jahr"),
            Retention::Years(n) => write!(f, "{n} Jahre"),
            Retention::Unlimited => f.write_str("unbefristet"),
        }
    }
}

/// What happens when retention ends (Aussonderungsart): xdomea code list
/// `urn:xoev-de:xdomea:codeliste:aussonderungsart`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Disposal {
    /// archivwürdig: offered to the archive.
    A,
    /// bewerten: the archive decides.
    B,
    /// vernichten: destroyed with a record.
    V,
}

impl Disposal {
    pub fn parse(s: &str) -> Option<Disposal> {
        match s.trim() {
            "A" | "a" => Some(Disposal::A),
            "B" | "b" => Some(Disposal::B),
            "V" | "v" => Some(Disposal::V),
            _ => None,
        }
    }

    /// The one-letter code: `A`, `B` or `V`.
    pub fn code(self) -> &'static str {
        match self {
            Disposal::A => "A",
            Disposal::B => "B",
            Disposal::V => "V",
        }
    }

    pub fn meaning(self) -> &'static str {
        match self {
            Disposal::A => "archivwürdig",
            Disposal::B => "bewerten",
            Disposal::V => "vernichten",
        }
    }
}

impl fmt::Display for Disposal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.code(), self.meaning())
    }
}

/// The closing of an Akte or Vorgang ("zu den Akten"), which starts retention.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Zda {
    /// Calendar date of the zdA in the store's time zone.
    pub date: Date,
    /// The instant it was recorded.
    pub at: Timestamp,
    /// Last day of retention; `None` for unlimited retention.
    pub retention_end: Option<Date>,
}

/// An Akte (file) under a Betreffseinheit of the file plan.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Akte {
    pub id: AkteId,
    pub aktenzeichen: Aktenzeichen,
    /// The Betreffseinheit it belongs to.
    pub position: Kennzeichen,
    pub title: String,
    /// The organisational unit that keeps it (aktenführende Stelle).
    pub unit: OrgUnit,
    pub opened_at: Timestamp,
    /// Year and running number the Aktenzeichen was built from.
    pub year: i16,
    pub number: u32,
    /// Retention and disposal, copied from the plan when the Akte was opened.
    pub retention: Retention,
    pub disposal: Disposal,
    pub zda: Option<Zda>,
    /// Number the next Vorgang will get.
    pub next_vorgang: u32,
}

/// A Vorgang (case) inside an Akte.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Vorgang {
    pub id: VorgangId,
    pub vorgangszeichen: Vorgangszeichen,
    pub akte: AkteId,
    pub number: u32,
    pub title: String,
    pub opened_at: Timestamp,
    /// Inherited from the Akte when opened.
    pub retention: Retention,
    pub disposal: Disposal,
    pub zda: Option<Zda>,
}

/// What kind of document it is in the flow of business.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DocKind {
    /// Incoming (Eingang).
    Eingang,
    /// Outgoing (Ausgang).
    Ausgang,
    /// Internal (Intern).
    Intern,
    /// A note for the file (Vermerk).
    Vermerk,
}

impl DocKind {
    pub fn as_str(self) -> &'static str {
        match self {
            DocKind::Eingang => "eingang",
            DocKind::Ausgang => "ausgang",
            DocKind::Intern => "intern",
            DocKind::Vermerk => "vermerk",
        }
    }
}

impl fmt::Display for DocKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a document is filed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "in", rename_all = "snake_case")]
pub enum Location {
    /// Unfiled, awaiting a decision.
    Posteingang,
    Akte {
        akte: AkteId,
    },
    Vorgang {
        akte: AkteId,
        vorgang: VorgangId,
    },
    /// Taken out of the Posteingang as belonging nowhere (advert,
    /// misdelivered, personal): kept on the discard list until its disposal.
    Discarded,
}

impl Location {
    /// The Akte it sits in, directly or through a Vorgang.
    pub fn akte(&self) -> Option<AkteId> {
        match *self {
            Location::Posteingang | Location::Discarded => None,
            Location::Akte { akte } | Location::Vorgang { akte, .. } => Some(akte),
        }
    }
}

/// One stored version of a document's content.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Version {
    /// 1, 2, 3, ... in the order they were added.
    pub number: u32,
    pub blob: BlobId,
    pub file_name: String,
    pub media_type: String,
    pub size: u64,
    pub added_at: Timestamp,
    pub added_by: Actor,
    /// What text extraction got from this version; `None` for records
    /// written before extraction existed (`akten ocr --pending` fills it in).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<TextInfo>,
    /// The scan record (Transfervermerk) where the version came in as a scan
    /// through the mailroom.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scan: Option<Box<ScanRecord>>,
}

/// How a paper document became this version (Transfervermerk after BSI
/// TR-RESISCAN): what was scanned, where, by whom and with what, and which
/// scan product it came from. The paper original may be destroyed from
/// `paper_destroy_from` on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScanRecord {
    /// When the scan product was written (its file's modification time).
    pub scanned_at: Timestamp,
    /// When the mailroom took it in.
    pub taken_at: Timestamp,
    pub station: String,
    /// The organisational unit the station serves (station setting).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operator: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<String>,
    /// Resolution of the page images, where the file says it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolution_dpi: Option<u32>,
    /// Pages of this document (cover sheets not counted).
    pub pages: u32,
    /// Whether the scanner was set to drop blank pages (station setting).
    pub blank_pages_removed: bool,
    /// The scan product as it arrived: its file name and blob (integrity).
    pub source_file: String,
    pub source_blob: BlobId,
    /// Pages of the scan product this document was cut from, where a
    /// batch was split at cover sheets (1-based, inclusive).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_pages: Option<(u32, u32)>,
    /// Where the target came from: `cover sheet`, `station` or `none`.
    pub routed_by: String,
    /// First day the paper original may be destroyed.
    pub paper_destroy_from: Date,
}

/// The outcome of text extraction for one version. The text itself is kept
/// beside the record (see `catalog`), so listing documents never decodes it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TextInfo {
    /// Serialised inline: `"status": "partial", "reason": "..."`.
    #[serde(flatten)]
    pub status: TextStatus,
    /// Characters of text kept.
    pub chars: u64,
    /// Pages (PDF, multi-page TIFF); `None` where the format has none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pages: Option<u32>,
    /// Pages whose text came from OCR.
    #[serde(default)]
    pub ocr_pages: u32,
    /// OCR language(s), where OCR ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ocr_language: Option<String>,
    pub extracted_at: Timestamp,
}

/// Whether a version's text could be read, and if not, why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", content = "reason", rename_all = "snake_case")]
pub enum TextStatus {
    /// All pages gave text.
    Ok,
    /// Some pages gave text; the reason names the others.
    Partial(String),
    /// The file was read but holds no text (e.g. blank pages).
    Empty,
    /// Encrypted, and the empty user password does not open it.
    Encrypted,
    /// Scanned pages wait for OCR (tesseract is not installed or not
    /// configured): `akten ocr --pending` reads them later.
    AwaitingOcr,
    /// Extraction failed; the original is stored all the same.
    Failed(String),
    /// A format akten does not extract text from (yet).
    Unsupported,
}

impl TextStatus {
    pub fn label(&self) -> &'static str {
        match self {
            TextStatus::Ok => "ok",
            TextStatus::Partial(_) => "partial",
            TextStatus::Empty => "empty",
            TextStatus::Encrypted => "encrypted",
            TextStatus::AwaitingOcr => "awaiting_ocr",
            TextStatus::Failed(_) => "failed",
            TextStatus::Unsupported => "unsupported",
        }
    }

    pub fn reason(&self) -> Option<&str> {
        match self {
            TextStatus::Partial(r) | TextStatus::Failed(r) => Some(r),
            _ => None,
        }
    }
}

/// A logical document with its versions.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dokument {
    pub id: DocId,
    pub title: String,
    pub kind: DocKind,
    /// Date of receipt (Eingangsdatum).
    pub received: Date,
    pub location: Location,
    /// How it arrived: `cli` for now; later mailroom, portal, council.
    pub channel: String,
    /// Who wrote it (Absender), where known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sender: Option<String>,
    /// The date the document bears (Schreiben vom), where known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date: Option<Date>,
    pub created_at: Timestamp,
    /// The sender's own reference (Fremdes Geschäftszeichen, "Unser Zeichen"
    /// in their letter), where one was found.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_reference: Option<String>,
    /// How it came to its place; `None` on documents from before akten
    /// recorded it (see [`Filing::human_confirmed`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filing: Option<Filing>,
    /// Never empty; the last one is current. A record without versions is
    /// refused when it is read, so [`Dokument::current`] cannot fail.
    #[serde(deserialize_with = "non_empty_versions")]
    pub versions: Vec<Version>,
}

fn non_empty_versions<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<Version>, D::Error> {
    let versions = Vec::<Version>::deserialize(d)?;
    if versions.is_empty() {
        return Err(serde::de::Error::custom("a document must have at least one version"));
    }
    Ok(versions)
}

impl Dokument {
    pub fn current(&self) -> &Version {
        self.versions.last().expect("a Dokument always has at least one version")
    }

    pub fn version(&self, number: u32) -> Option<&Version> {
        self.versions.iter().find(|v| v.number == number)
    }
}

/// Who or what decided where a document is filed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FiledBy {
    /// A person: `add --to`, `move`, a Posteingang decision.
    Person,
    /// The cover sheet a person printed for it.
    CoverSheet,
    /// The default target of the scanner station it came through.
    Station,
    /// An Aktenzeichen or Vorgangszeichen of the city cited in its text.
    Citation,
    /// A rule of the file plan (keywords, patterns, senders).
    Rule,
    /// The model learned from earlier filings.
    Model,
}

impl FiledBy {
    pub fn as_str(self) -> &'static str {
        match self {
            FiledBy::Person => "person",
            FiledBy::CoverSheet => "cover sheet",
            FiledBy::Station => "station",
            FiledBy::Citation => "citation",
            FiledBy::Rule => "rule",
            FiledBy::Model => "model",
        }
    }
}

/// How a document came to its place, with the reasons shown to clerks.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Filing {
    pub by: FiledBy,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reasons: Vec<String>,
}

impl Filing {
    pub fn person() -> Filing {
        Filing { by: FiledBy::Person, reasons: Vec::new() }
    }

    /// Whether a filing is a person's decision, and so something the model
    /// may learn from. Records from before filings were kept count when they
    /// were filed by hand or by a cover sheet (`routed_by` of the scan record).
    pub fn human_confirmed(doc: &Dokument) -> bool {
        if doc.location.akte().is_none() {
            return false;
        }
        match &doc.filing {
            Some(f) => matches!(f.by, FiledBy::Person | FiledBy::CoverSheet),
            None => doc.versions[0].scan.as_ref().is_none_or(|s| s.routed_by == "cover sheet"),
        }
    }
}

/// The pattern Aktenzeichen and Vorgangszeichen are built from (akten.toml).
///
/// Aktenzeichen placeholders: `{kennzeichen}`, `{lfd}` or `{lfd:0N}` (running
/// number, zero-padded to N digits), `{jahr}`. `{kennzeichen}` and `{lfd}` are
/// required, so keys are unique per position; with `{jahr}` the running number
/// restarts every year. Vorgangszeichen placeholders: `{aktenzeichen}`, `{nr}`,
/// both required.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AzTemplate {
    source: String,
    parts: Vec<Part>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Part {
    Literal(String),
    Kennzeichen,
    Lfd { width: usize },
    Jahr,
    Aktenzeichen,
    Nr,
}

type PartTest = fn(&Part) -> bool;

/// Why a template from akten.toml is unusable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid template '{template}': {problem}")]
pub struct BadTemplate {
    pub template: String,
    pub problem: String,
}

impl AzTemplate {
    pub const DEFAULT_AKTE: &'static str = "{kennzeichen}-{lfd:04}/{jahr}";
    pub const DEFAULT_VORGANG: &'static str = "{aktenzeichen}-{nr}";

    /// A template for Aktenzeichen.
    pub fn for_akte(template: &str) -> Result<Self, BadTemplate> {
        let t = Self::parse(template)?;
        t.require(&[("{kennzeichen}", |p| *p == Part::Kennzeichen), ("{lfd}", |p| matches!(p, Part::Lfd { .. }))])?;
        t.forbid(
            |p| matches!(p, Part::Aktenzeichen | Part::Nr),
            "{aktenzeichen} and {nr} belong in the Vorgang template",
        )?;
        Ok(t)
    }

    /// A template for Vorgangszeichen.
    pub fn for_vorgang(template: &str) -> Result<Self, BadTemplate> {
        let t = Self::parse(template)?;
        t.require(&[("{aktenzeichen}", |p| *p == Part::Aktenzeichen), ("{nr}", |p| *p == Part::Nr)])?;
        t.forbid(
            |p| !matches!(p, Part::Aktenzeichen | Part::Nr | Part::Literal(_)),
            "only {aktenzeichen} and {nr} are allowed here",
        )?;
        Ok(t)
    }

    /// Whether the running number restarts each year.
    pub fn uses_year(&self) -> bool {
        self.parts.contains(&Part::Jahr)
    }

    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// Builds an Aktenzeichen.
    pub fn aktenzeichen(&self, kennzeichen: &Kennzeichen, number: u32, year: i16) -> Aktenzeichen {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Literal(s) => out.push_str(s),
                Part::Kennzeichen => out.push_str(kennzeichen.as_str()),
                Part::Lfd { width } => out.push_str(&format!("{number:0width$}")),
                Part::Jahr => out.push_str(&year.to_string()),
                Part::Aktenzeichen | Part::Nr => {}
            }
        }
        Aktenzeichen::new(out)
    }

    /// A regular expression (source) that matches keys built from this
    /// template as people write them: spaces allowed around `-` and `/`, the
    /// running number with or without its leading zeros. `akte` is the
    /// pattern that stands in for `{aktenzeichen}` in a Vorgang template.
    pub fn pattern(&self, akte: &str) -> String {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Literal(s) => {
                    for c in s.chars() {
                        if c == '-' || c == '/' {
                            out.push_str(&format!(r"\s?{}\s?", regex::escape(c.encode_utf8(&mut [0; 4]))));
                        } else if c.is_whitespace() {
                            out.push_str(r"\s+");
                        } else {
                            out.push_str(&regex::escape(c.encode_utf8(&mut [0; 4])));
                        }
                    }
                }
                Part::Kennzeichen => out.push_str(r"\d{1,3}(?:\.\d{1,3})*"),
                Part::Lfd { .. } => out.push_str(r"\d{1,6}"),
                Part::Jahr => out.push_str(r"\d{4}"),
                Part::Aktenzeichen => out.push_str(&format!("(?:{akte})")),
                Part::Nr => out.push_str(r"\d{1,4}"),
            }
        }
        out
    }

    /// Builds a Vorgangszeichen.
    pub fn vorgangszeichen(&self, aktenzeichen: &Aktenzeichen, number: u32) -> Vorgangszeichen {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Literal(s) => out.push_str(s),
                Part::Aktenzeichen => out.push_str(aktenzeichen.as_str()),
                Part::Nr => out.push_str(&number.to_string()),
                _ => {}
            }
        }
        Vorgangszeichen::new(out)
    }

    fn parse(template: &str) -> Result<Self, BadTemplate> {
        let bad = |problem: &str| BadTemplate { template: template.to_string(), problem: problem.to_string() };
        let mut parts = Vec::new();
        let mut rest = template;
        while let Some(open) = rest.find('{') {
            if open > 0 {
                if rest[..open].contains('}') {
                    return Err(bad("a '}' has no matching '{'"));
                }
                parts.push(Part::Literal(rest[..open].to_string()));
            }
            let close = rest[open..].find('}').ok_or_else(|| bad("a '{' is not closed"))? + open;
            let name = &rest[open + 1..close];
            parts.push(match name {
                "kennzeichen" => Part::Kennzeichen,
                "jahr" => Part::Jahr,
                "lfd" => Part::Lfd { width: 0 },
                "aktenzeichen" => Part::Aktenzeichen,
                "nr" => Part::Nr,
                _ => match name.strip_prefix("lfd:") {
                    Some(width) => {
                        let width: usize = width
                            .trim_start_matches('0')
                            .parse()
                            .ok()
                            .filter(|w| (1..=9).contains(w))
                            .ok_or_else(|| bad("write the padding as {lfd:04} (1 to 9 digits)"))?;
                        Part::Lfd { width }
                    }
                    None => return Err(bad(&format!("unknown placeholder {{{name}}}"))),
                },
            });
            rest = &rest[close + 1..];
        }
        if rest.contains('}') {
            return Err(bad("a '}' has no matching '{'"));
        }
        if !rest.is_empty() {
            parts.push(Part::Literal(rest.to_string()));
        }
        Ok(Self { source: template.to_string(), parts })
    }

    fn require(&self, needed: &[(&str, PartTest)]) -> Result<(), BadTemplate> {
        for (name, is) in needed {
            let count = self.parts.iter().filter(|p| is(p)).count();
            if count != 1 {
                return Err(BadTemplate {
                    template: self.source.clone(),
                    problem: format!("it must contain {name} exactly once"),
                });
            }
        }
        Ok(())
    }

    fn forbid(&self, is: fn(&Part) -> bool, problem: &str) -> Result<(), BadTemplate> {
        if self.parts.iter().any(is) {
            return Err(BadTemplate { template: self.source.clone(), problem: problem.to_string() });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use jiff::civil::date;

    use super::*;

    #[test]
    fn kennzeichen_grammar() {
        for good in ["0", "00", "000", "000.01", "61.26.01", "9"] {
            assert!(Kennzeichen::parse(good).is_ok(), "{good}");
        }
        for bad in ["", ".", "0.", ".1", "0..1", "a", "000.0a", "000 01", "-1", "000.01 "] {
            assert!(Kennzeichen::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn kennzeichen_lineage() {
        let k = Kennzeichen::parse("000.01").unwrap();
        let chain: Vec<String> = k.lineage().iter().map(|k| k.to_string()).collect();
        assert_eq!(chain, ["0", "00", "000", "000.01"]);
        let k = Kennzeichen::parse("61.26.01").unwrap();
        let chain: Vec<String> = k.lineage().iter().map(|k| k.to_string()).collect();
        assert_eq!(chain, ["6", "61", "61.26", "61.26.01"]);
        assert!(k.is_within(&Kennzeichen::parse("61").unwrap()));
        assert!(!k.is_within(&Kennzeichen::parse("62").unwrap()));
    }

    #[test]
    fn retention_end_is_31_december_of_zda_year_plus_years() {
        let ten = Retention::Years(10);
        assert_eq!(ten.end_after_zda(date(2026, 1, 1)), Some(date(2036, 12, 31)));
        assert_eq!(ten.end_after_zda(date(2026, 12, 31)), Some(date(2036, 12, 31)));
        assert_eq!(Retention::Years(0).end_after_zda(date(2026, 6, 1)), Some(date(2026, 12, 31)));
        assert_eq!(Retention::Unlimited.end_after_zda(date(2026, 6, 1)), None);
    }

    #[test]
    fn a_document_without_versions_is_refused_when_read() {
        let doc = serde_json::json!({
            "id": "0017eb42-18b2-4a45-b142-5c05780ae458", "title": "Brief", "kind": "eingang",
            "received": "2026-12-04", "location": {"in": "posteingang"}, "channel": "cli",
            "created_at": "2026-12-04T10:00:00Z", "versions": []
        });
        let err = serde_json::from_value::<Dokument>(doc).unwrap_err();
        assert!(err.to_string().contains("at least one version"), "{err}");
    }

    #[test]
    fn blob_id_hex_round_trip() {
        let id = BlobId::from_hash(blake3::hash(b"akten"));
        assert_eq!(BlobId::from_hex(&id.to_hex()), Some(id));
        assert_eq!(BlobId::from_hex("abc"), None);
        let json = serde_json::to_string(&id).unwrap();
        assert_eq!(serde_json::from_str::<BlobId>(&json).unwrap(), id);
    }

    #[test]
    fn templates() {
        let k = Kennzeichen::parse("000.01").unwrap();
        let t = AzTemplate::for_akte(AzTemplate::DEFAULT_AKTE).unwrap();
        assert!(t.uses_year());
        let az = t.aktenzeichen(&k, 12, 2026);
        assert_eq!(az.as_str(), "000.01-0012/2026");
        let v = AzTemplate::for_vorgang(AzTemplate::DEFAULT_VORGANG).unwrap();
        assert_eq!(v.vorgangszeichen(&az, 3).as_str(), "000.01-0012/2026-3");
        let t = AzTemplate::for_akte("{kennzeichen}/{lfd}").unwrap();
        assert!(!t.uses_year());
        assert_eq!(t.aktenzeichen(&k, 7, 2026).as_str(), "000.01/7");
        for bad in [
            "{kennzeichen}-{jahr}",
            "{lfd}",
            "{kennzeichen}-{lfd}-{lfd}",
            "{kennzeichen}-{lfd:x}",
            "{kennzeichen}-{lfd",
            "{kennzeichen}}{lfd}",
            "{kennzeichen}-{lfd}-{nr}",
            "{kennzeichen}{lfd}{foo}",
        ] {
            assert!(AzTemplate::for_akte(bad).is_err(), "{bad}");
        }
        for bad in ["{aktenzeichen}", "{nr}", "{aktenzeichen}-{nr}-{jahr}"] {
            assert!(AzTemplate::for_vorgang(bad).is_err(), "{bad}");
        }
    }
}
