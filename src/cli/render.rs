//! Human-readable rendering of engine responses.
//!
//! Pure: a [`Response`] in, text out. Because rendering depends only on the
//! response, a command prints the same whether the engine ran in this
//! process or elsewhere.

use std::fmt::Write;

use akten::engine::{AddOutcome, AkteSummary, DocSummary, Place, PositionSummary, Response, SearchHit, VorgangSummary};
use akten::index::Snippet;
use akten::model::Zda;
use akten::verify::Severity;

/// 1536 → "1.5 KiB".
pub fn size(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 { format!("{bytes} B") } else { format!("{value:.1} {}", UNITS[unit]) }
}

fn status(zda: &Option<Zda>) -> String {
    match zda {
        None => "open".to_string(),
        Some(z) => match z.retention_end {
            Some(end) => format!("closed (zdA {}), retention ends {end}", z.date),
            None => format!("closed (zdA {}), kept without time limit", z.date),
        },
    }
}

fn short_status(zda: &Option<Zda>) -> String {
    match zda {
        None => "open".to_string(),
        Some(z) => format!("zdA {}", z.date),
    }
}

fn doc_line(out: &mut String, d: &DocSummary) {
    let _ = writeln!(
        out,
        "    {}  {}  {:<8} {}  (v{}, {}, {})",
        d.id.short(),
        d.received,
        d.kind.as_str(),
        d.title,
        d.versions,
        d.media_type,
        size(d.size)
    );
}

fn suggestion_line(out: &mut String, n: usize, s: &akten::classify::Suggestion) {
    use akten::classify::Target;
    let unit = s.unit.as_ref().map(|u| format!(", unit {u}")).unwrap_or_default();
    let target = match &s.target {
        Target::Position { kennzeichen, akte } => {
            let akte = akte.as_ref().map(|az| format!(" → Akte {az}")).unwrap_or_default();
            format!("position {kennzeichen} {}{akte}", s.position_title)
        }
        other => format!("{} (position {} {})", other.label(), s.position, s.position_title),
    };
    let _ = writeln!(
        out,
        "      {n}. {target} ({} {:.0} %{unit}): {}",
        s.evidence.as_str(),
        s.confidence * 100.0,
        s.reasons.join("; ")
    );
}

fn post_entry(out: &mut String, d: &akten::engine::PostEntry) {
    if let Some(unit) = &d.unit {
        let name = d.unit_name.as_deref().map(|n| format!(" ({n})")).unwrap_or_default();
        let _ = writeln!(out, "      for unit {unit}{name}");
    }
    if let Some(r) = &d.external_reference {
        let _ = writeln!(out, "      their reference: {r}");
    }
    for (n, s) in d.suggestions.iter().enumerate() {
        suggestion_line(out, n + 1, s);
    }
    if let (Some(why), false) = (&d.why, d.suggestions.is_empty()) {
        let _ = writeln!(out, "      waits: {why}");
    }
    for f in &d.forwarded {
        let from = f.from.as_ref().map_or_else(|| "-".to_string(), |u| u.to_string());
        let _ = writeln!(out, "      forwarded {from} → {} by {} at {}", f.to, f.by, f.at);
    }
    if let Some(x) = &d.discarded {
        let _ = writeln!(out, "      discarded by {} ({}): disposed of from {}", x.by, x.reason, x.dispose_from);
    }
}

fn classification_lines(out: &mut String, c: &akten::classify::Classification) {
    match &c.decision {
        akten::classify::Decision::File { to, by, reasons } => {
            let to = match to {
                akten::classify::FileTo::Akte { aktenzeichen } => format!("Akte {aktenzeichen}"),
                akten::classify::FileTo::Vorgang { vorgangszeichen } => format!("Vorgang {vorgangszeichen}"),
                akten::classify::FileTo::NewAkte { position, title } => {
                    format!("a new yearly Akte \"{title}\" at position {position}")
                }
            };
            let _ = writeln!(out, "  akten would file it to {to} by {}: {}", by.as_str(), reasons.join("; "));
        }
        akten::classify::Decision::Wait { why } => {
            let _ = writeln!(out, "  akten would put it in the Posteingang: {why}");
        }
    }
    if let Some(r) = &c.external_reference {
        let _ = writeln!(out, "  their reference (Unser Zeichen): {r}");
    }
    if c.suggestions.is_empty() {
        let _ = writeln!(out, "  no suggestions");
    }
    for (n, s) in c.suggestions.iter().enumerate() {
        suggestion_line(out, n + 1, s);
    }
}

fn akte_line(out: &mut String, a: &AkteSummary) {
    let _ = writeln!(
        out,
        "{:<22} {:<10} {}  ({} Vorgänge, {} documents)",
        a.aktenzeichen.as_str(),
        short_status(&a.zda),
        a.title,
        a.vorgaenge,
        a.documents
    );
}

fn vorgang_line(out: &mut String, v: &VorgangSummary) {
    let _ = writeln!(
        out,
        "    {:<26} {:<10} {}  ({} documents)",
        v.vorgangszeichen.as_str(),
        short_status(&v.zda),
        v.title,
        v.documents
    );
}

fn position_line(out: &mut String, p: &PositionSummary, indent: bool) {
    let depth = if indent { p.kennzeichen.lineage().len() - 1 } else { 0 };
    let mut flags = String::new();
    if p.retired {
        flags.push_str("  [stillgelegt]");
    }
    if p.akten > 0 {
        let _ = write!(flags, "  [{} Akten]", p.akten);
    }
    let _ = writeln!(
        out,
        "{:indent$}{:<8} {}  ({}, {}){flags}",
        "",
        p.kennzeichen.as_str(),
        p.title,
        p.retention,
        p.disposal.code(),
        indent = depth * 2
    );
}

fn akte_header(out: &mut String, a: &AkteSummary) {
    let _ = writeln!(out, "Akte {}  {}", a.aktenzeichen, a.title);
    let _ = writeln!(out, "  id         {}", a.id);
    let _ = writeln!(out, "  position   {} {}", a.position, a.position_title);
    let unit = match &a.unit_name {
        Some(name) => format!("{} {name}", a.unit),
        None => a.unit.to_string(),
    };
    let _ = writeln!(out, "  kept by    {unit}");
    let _ = writeln!(out, "  opened     {}", a.opened_on);
    let _ = writeln!(out, "  retention  {}, disposal {}", a.retention, a.disposal);
    let _ = writeln!(out, "  status     {}", status(&a.zda));
}

/// The text a response prints.
/// The Transfervermerk of a scanned version.
fn scan_record(out: &mut String, s: &akten::model::ScanRecord) {
    let _ = writeln!(out, "       scan record (Transfervermerk)");
    let _ = writeln!(
        out,
        "         scanned      {} UTC at station {}",
        s.scanned_at.strftime("%Y-%m-%d %H:%M:%S"),
        s.station
    );
    if let Some(unit) = &s.unit {
        let _ = writeln!(out, "         unit         {unit}");
    }
    if let Some(op) = &s.operator {
        let _ = writeln!(out, "         operator     {op}");
    }
    if let Some(dev) = &s.device {
        let _ = writeln!(out, "         device       {dev}");
    }
    let dpi = s.resolution_dpi.map(|d| format!("{d} dpi")).unwrap_or_else(|| "not recorded in the file".into());
    let _ = writeln!(out, "         resolution   {dpi}");
    let blank = if s.blank_pages_removed { "blank pages removed by the scanner" } else { "no blank pages removed" };
    let _ = writeln!(out, "         pages        {} ({blank})", s.pages);
    let from = s.source_pages.map(|(a, b)| format!(", pages {a}-{b}")).unwrap_or_default();
    let _ = writeln!(out, "         scan product {}{from}, blake3 {}", s.source_file, s.source_blob.to_hex());
    let _ = writeln!(out, "         routed by    {}", s.routed_by);
    let _ = writeln!(out, "         paper original may be destroyed from {}", s.paper_destroy_from);
}

pub fn render(response: &Response) -> String {
    let mut out = String::new();
    match response {
        Response::Initialized(r) => {
            let _ = writeln!(out, "created store {} (catalog on {})", r.store.display(), r.catalog_engine);
            let _ = writeln!(
                out,
                "  Aktenplan \"{}\" version {} from {}: {} positions, {} Betreffseinheiten",
                r.plan_name, r.plan_version, r.plan_file, r.positions, r.betreffseinheiten
            );
            let _ = writeln!(out, "  audit chain head: {}", r.chain_head);
        }
        Response::Plan(p) => {
            let valid = p.valid_from.map(|d| format!(", valid from {d}")).unwrap_or_default();
            let _ =
                writeln!(out, "{} (version {}{valid}), {} Betreffseinheiten", p.name, p.version, p.betreffseinheiten);
            for pos in &p.positions {
                position_line(&mut out, pos, true);
            }
        }
        Response::Position(v) => {
            let p = &v.position;
            let _ = writeln!(out, "{} {}  ({})", p.kennzeichen, p.title, v.level);
            if let Some(d) = &p.description {
                let _ = writeln!(out, "  {d}");
            }
            let _ = writeln!(out, "  retention  {}, disposal {}", p.retention, p.disposal);
            if let Some(unit) = &p.unit {
                let name = v.unit_name.as_deref().map(|n| format!(" {n}")).unwrap_or_default();
                let _ = writeln!(out, "  kept by    {unit}{name}");
            }
            if p.betreffseinheit {
                let yearly = if p.yearly_collective {
                    "may open a yearly collective Akte"
                } else {
                    "case files only (no automatic Akten)"
                };
                let _ = writeln!(out, "  filing     {yearly}");
                let _ = writeln!(out, "  Akten      {}", v.akten);
            }
            if p.retired {
                let _ = writeln!(out, "  status     retired (stillgelegt): no new Akten");
            }
            if !p.keywords.is_empty() {
                let _ = writeln!(out, "  keywords   {}", p.keywords.join(", "));
            }
            if !p.patterns.is_empty() {
                let _ = writeln!(out, "  patterns   {}", p.patterns.join("  "));
            }
            if !p.senders.is_empty() {
                let _ = writeln!(out, "  senders    {}", p.senders.join(", "));
            }
            if !v.lineage.is_empty() {
                let _ = writeln!(out, "  under");
                for a in &v.lineage {
                    let _ = write!(out, "    ");
                    position_line(&mut out, a, false);
                }
            }
            if !v.children.is_empty() {
                let _ = writeln!(out, "  positions below");
                for c in &v.children {
                    let _ = write!(out, "    ");
                    position_line(&mut out, c, false);
                }
            }
        }
        Response::PlanImported(r) => {
            let c = &r.changes;
            let verb = if r.dry_run { "would import" } else { "imported" };
            let _ = writeln!(
                out,
                "{verb} {} version {} (was {}) from {}: {} Betreffseinheiten in use",
                r.name,
                r.version,
                r.previous_version,
                r.file.display(),
                r.betreffseinheiten
            );
            let list = |v: &[akten::model::Kennzeichen]| v.iter().map(|k| k.to_string()).collect::<Vec<_>>().join(", ");
            for (label, codes) in [
                ("added", &c.added),
                ("changed", &c.changed),
                ("removed", &c.removed),
                ("retired (hold Akten, kept readable)", &c.retired),
                ("reactivated", &c.reactivated),
            ] {
                if !codes.is_empty() {
                    let _ = writeln!(out, "  {label}: {}", list(codes));
                }
            }
            let _ = writeln!(out, "  unchanged: {}", c.unchanged);
        }
        Response::AkteOpened(a) => {
            let _ = writeln!(out, "opened Akte {} \"{}\"", a.aktenzeichen, a.title);
            let _ = writeln!(out, "  under {} {}", a.position, a.position_title);
            let _ = writeln!(out, "  retention {}, disposal {}", a.retention, a.disposal);
        }
        Response::AkteList { akten } => {
            if akten.is_empty() {
                let _ = writeln!(out, "no Akten");
            }
            for a in akten {
                akte_line(&mut out, a);
            }
        }
        Response::Akte(view) => {
            akte_header(&mut out, &view.akte);
            let _ = writeln!(out, "  Vorgänge ({})", view.vorgaenge.len());
            for v in &view.vorgaenge {
                vorgang_line(&mut out, v);
            }
            let _ = writeln!(out, "  documents ({})", view.documents.len());
            for d in &view.documents {
                doc_line(&mut out, d);
            }
        }
        Response::AkteClosed { akte, vorgaenge_closed } => {
            for v in vorgaenge_closed {
                let _ = writeln!(out, "closed Vorgang {}: {}", v.vorgangszeichen, status(&v.zda));
            }
            let _ = writeln!(out, "closed Akte {}: {}", akte.aktenzeichen, status(&akte.zda));
        }
        Response::AkteReopened { akte } => {
            let _ = writeln!(out, "reopened Akte {}", akte.aktenzeichen);
        }
        Response::VorgangOpened(v) => {
            let _ = writeln!(out, "opened Vorgang {} \"{}\" in Akte {}", v.vorgangszeichen, v.title, v.akte);
        }
        Response::Vorgang(view) => {
            let v = &view.vorgang;
            let _ = writeln!(out, "Vorgang {}  {}", v.vorgangszeichen, v.title);
            let _ = writeln!(out, "  id         {}", v.id);
            let _ = writeln!(out, "  in Akte    {}  {}", v.akte, view.akte_title);
            let _ = writeln!(out, "  opened     {}", v.opened_on);
            let _ = writeln!(out, "  retention  {}", v.retention);
            let _ = writeln!(out, "  status     {}", status(&v.zda));
            let _ = writeln!(out, "  documents ({})", view.documents.len());
            for d in &view.documents {
                doc_line(&mut out, d);
            }
        }
        Response::VorgangClosed(v) => {
            let _ = writeln!(out, "closed Vorgang {}: {}", v.vorgangszeichen, status(&v.zda));
        }
        Response::VorgangReopened(v) => {
            let _ = writeln!(out, "reopened Vorgang {}", v.vorgangszeichen);
        }
        Response::Added(report) => {
            let (mut added, mut duplicates, mut failed) = (0, 0, 0);
            for r in &report.results {
                match r {
                    AddOutcome::Added { file, doc, place, filing, also_filed } => {
                        added += 1;
                        let _ = writeln!(
                            out,
                            "added {} → {} as {} \"{}\" ({}, {})",
                            file.display(),
                            place.label(),
                            doc.id.short(),
                            doc.title,
                            doc.media_type,
                            size(doc.size)
                        );
                        if let Some(f) = filing {
                            let _ = writeln!(out, "  filed by {}: {}", f.by.as_str(), f.reasons.join("; "));
                        }
                        if let Some(info) = &doc.text {
                            let _ = writeln!(out, "  {}", text_status(info));
                        }
                        for (other, place) in also_filed {
                            let _ = writeln!(
                                out,
                                "  same content also filed in {} (document {})",
                                place.label(),
                                other.short()
                            );
                        }
                    }
                    AddOutcome::Duplicate { file, existing, existing_title, place } => {
                        duplicates += 1;
                        let _ = writeln!(
                            out,
                            "duplicate {}: already in {} as {} \"{existing_title}\" (use --allow-duplicate to add it again)",
                            file.display(),
                            place.label(),
                            existing.short()
                        );
                    }
                    AddOutcome::Failed { file, error } => {
                        failed += 1;
                        let _ = writeln!(out, "failed {}: {error}", file.display());
                    }
                }
            }
            if report.results.len() > 1 {
                let _ = writeln!(out, "{added} added, {duplicates} duplicates, {failed} failed");
            }
        }
        Response::VersionAdded { doc, version, location } => {
            let _ = writeln!(
                out,
                "added version {} of {} \"{}\" in {} ({}, {})",
                version.number,
                doc.id.short(),
                doc.title,
                location.label(),
                version.file_name,
                size(version.size)
            );
        }
        Response::Moved { doc, from, to } => {
            let _ = writeln!(out, "moved {} \"{}\" from {} to {}", doc.id.short(), doc.title, from.label(), to.label());
        }
        Response::IntakeFailed { files } => {
            if files.is_empty() {
                let _ = writeln!(out, "failed/ is empty: every file was taken in");
            }
            for f in files {
                let at = f.failed_at.as_deref().unwrap_or("?");
                let _ = writeln!(out, "{}  {}  failed {at}\n  {}", f.name, size(f.size), f.reason);
            }
            if !files.is_empty() {
                let _ = writeln!(out, "retry one with `akten intake retry NAME` once the cause is fixed");
            }
        }
        Response::IntakeRetried { name, to } => {
            let _ = writeln!(out, "{name} is back in {}; the mailroom takes it in again", to.display());
        }
        Response::CoverSheet(spec) => {
            let _ = writeln!(out, "cover sheet {}", spec.payload);
        }
        Response::Dokument(view) => {
            let d = &view.doc;
            let _ = writeln!(out, "Dokument {}  {}", d.id.short(), d.title);
            let _ = writeln!(out, "  id         {}", d.id);
            let _ = writeln!(out, "  in         {}", place_detail(&view.place));
            let _ = writeln!(out, "  kind       {}", d.kind);
            let _ = writeln!(out, "  received   {}", d.received);
            let _ = writeln!(out, "  channel    {}", d.channel);
            if let Some(sender) = &d.sender {
                let _ = writeln!(out, "  sender     {sender}");
            }
            if let Some(date) = d.date {
                let _ = writeln!(out, "  dated      {date}");
            }
            if let Some(r) = &d.external_reference {
                let _ = writeln!(out, "  their ref  {r}  (Fremdes Geschäftszeichen)");
            }
            if let Some(f) = d.filing.as_ref().filter(|f| f.by != akten::model::FiledBy::Person) {
                let _ = writeln!(out, "  filed by   {}: {}", f.by.as_str(), f.reasons.join("; "));
            }
            let _ = writeln!(out, "  added      {}", view.created_local);
            let _ = writeln!(out, "  versions ({})", d.versions.len());
            for v in &d.versions {
                let _ = writeln!(
                    out,
                    "    {}  {}  {}  {}  {}  by {}",
                    v.number,
                    v.file_name,
                    v.media_type,
                    size(v.size),
                    v.blob.short(),
                    v.added_by
                );
                if let Some(info) = &v.text {
                    let _ = writeln!(out, "       {}", text_status(info));
                }
                if let Some(scan) = &v.scan {
                    scan_record(&mut out, scan);
                }
            }
            for (other, place) in &view.same_content {
                let _ = writeln!(out, "  same content also filed in {} (document {})", place.label(), other.short());
            }
        }
        Response::Content(info) => {
            let _ = writeln!(
                out,
                "{} version {} ({}, {})",
                info.doc.short(),
                info.version.number,
                info.version.file_name,
                size(info.version.size)
            );
        }
        Response::Posteingang { documents, discarded } => {
            let name = if *discarded { "the discard list" } else { "the Posteingang" };
            if documents.is_empty() {
                let _ = writeln!(out, "{name} is empty");
            } else {
                let header = if *discarded { "Discard list" } else { "Posteingang" };
                let _ = writeln!(out, "{header} ({} documents)", documents.len());
                for d in documents {
                    doc_line(&mut out, &d.doc);
                    post_entry(&mut out, d);
                }
            }
        }
        Response::PosteingangFiled(r) => {
            if let Some(a) = &r.opened {
                let _ = writeln!(out, "opened Akte {} \"{}\"", a.aktenzeichen, a.title);
            }
            let _ = writeln!(
                out,
                "filed {} \"{}\" from the Posteingang to {}",
                r.doc.id.short(),
                r.doc.title,
                r.to.label()
            );
        }
        Response::PosteingangForwarded { doc, from, to, unit_name } => {
            let from = from.as_ref().map_or_else(|| "no unit".to_string(), |u| format!("unit {u}"));
            let name = unit_name.as_deref().map(|n| format!(" ({n})")).unwrap_or_default();
            let _ = writeln!(out, "forwarded {} \"{}\" from {from} to unit {to}{name}", doc.id.short(), doc.title);
        }
        Response::PosteingangDiscarded { doc, reason, dispose_from } => {
            let _ = writeln!(
                out,
                "discarded {} \"{}\" ({reason}): kept on the discard list, disposed of from {dispose_from} (`akten posteingang dispose`)",
                doc.id.short(),
                doc.title
            );
        }
        Response::PosteingangDisposed(r) => {
            let verb = if r.dry_run { "would dispose of" } else { "disposed of" };
            for d in &r.disposed {
                let _ = writeln!(
                    out,
                    "{verb} {} \"{}\" ({}, discarded {})",
                    d.doc.short(),
                    d.title,
                    d.reason,
                    d.discarded_at
                );
            }
            let _ = writeln!(out, "{} {verb}; {} discarded still in their keep period", r.disposed.len(), r.waiting);
        }
        Response::Classified(r) => {
            let what = r.doc.map(|d| format!("{} ", d.short())).unwrap_or_default();
            let _ = writeln!(out, "{what}\"{}\"", r.title);
            classification_lines(&mut out, &r.classification);
            if r.model_examples == 0 {
                let _ = writeln!(out, "  (the model has no filings to learn from yet)");
            }
        }
        Response::Trained(r) => {
            let _ = writeln!(
                out,
                "trained the classifier on {} filed documents at {} positions in {:.1} s ({}, {})",
                r.examples,
                r.positions,
                r.millis as f64 / 1000.0,
                r.file.display(),
                size(r.bytes)
            );
        }
        Response::Log(log) => {
            if let Some(object) = &log.object {
                let _ = writeln!(out, "history of {object}");
            }
            if log.entries.len() < log.total {
                let _ = writeln!(out, "(the last {} of {} events; --limit 0 shows all)", log.entries.len(), log.total);
            }
            for entry in &log.entries {
                let e = &entry.event;
                let _ = writeln!(out, "#{} {}  {}  {}  {}", e.seq, entry.local_time, e.actor, e.action, e.object);
                for c in &e.changes {
                    let _ = writeln!(out, "      {}: {} → {}", c.field, value(&c.before), value(&c.after));
                }
            }
            let _ = writeln!(out, "audit chain head: {}", log.chain_head);
        }
        Response::Verified(r) => {
            let _ = writeln!(
                out,
                "checked {} blobs ({}), {} documents ({} versions), {} Akten, {} Vorgänge, {} audit events",
                r.blobs_checked,
                size(r.bytes_checked),
                r.documents,
                r.versions,
                r.akten,
                r.vorgaenge,
                r.events
            );
            for f in &r.findings {
                let label = match f.severity {
                    Severity::Error => "error",
                    Severity::Warning => "warning",
                };
                let _ = writeln!(out, "{label:<8} {}: {}", f.object, f.problem);
                let _ = writeln!(out, "         repair: {}", f.repair);
            }
            if r.findings.is_empty() {
                let _ = writeln!(out, "no problems found");
            } else {
                let _ = writeln!(out, "{} errors, {} warnings", r.errors(), r.warnings());
            }
            if let Some(head) = &r.chain_head {
                let _ = writeln!(out, "audit chain head: {head}");
            }
        }
        Response::Collected(r) => {
            let verb = if r.dry_run { "would remove" } else { "removed" };
            for b in &r.removed {
                let _ = writeln!(out, "{verb} orphan blob {} ({})", b.blob.to_hex(), size(b.size));
            }
            let _ = writeln!(out, "{verb} {} orphan blobs, {}", r.removed.len(), size(r.bytes_freed));
            if let Some((before, after)) = r.catalog_bytes {
                let _ = writeln!(out, "compacted the catalog: {} → {}", size(before), size(after));
            }
            if r.kept_young > 0 {
                let _ = writeln!(
                    out,
                    "kept {} orphan blobs younger than {} hours (they may belong to an operation in progress)",
                    r.kept_young, r.grace_hours
                );
            }
        }
        Response::Search(r) => {
            let shown = r.hits.len();
            let fuzzy = if r.fuzzy { " (allowing one typo per word: few exact hits)" } else { "" };
            let _ = match (r.total, shown) {
                (0, _) => writeln!(out, "no documents match \"{}\"{fuzzy}", r.query),
                (1, _) => writeln!(out, "1 document matches \"{}\"{fuzzy}", r.query),
                (t, s) if t == s => writeln!(out, "{t} documents match \"{}\"{fuzzy}", r.query),
                (t, s) => writeln!(out, "{t} documents match \"{}\"{fuzzy}; the best {s}:", r.query),
            };
            for hit in &r.hits {
                hit_lines(&mut out, hit);
            }
            if let Some(facets) = &r.facets {
                let _ = writeln!(out, "by plan position:");
                if facets.is_empty() {
                    let _ = writeln!(out, "  (none: the hits are in the Posteingang)");
                }
                for f in facets {
                    let _ = writeln!(out, "  {:>6}  {} {}", f.count, f.position, f.title);
                }
            }
        }
        Response::Similar(r) => {
            let _ = writeln!(out, "documents like {} \"{}\":", r.doc.short(), r.title);
            if r.hits.is_empty() {
                let _ = writeln!(out, "  none found");
            }
            for hit in &r.hits {
                hit_lines(&mut out, hit);
            }
        }
        Response::Reindexed(r) => {
            let _ =
                writeln!(out, "rebuilt the search index: {} documents (catalog change {})", r.documents, r.change_seq);
        }
        Response::OcrDone(r) => {
            for x in &r.results {
                let _ = writeln!(
                    out,
                    "{} version {} \"{}\": {} → {}",
                    x.doc.short(),
                    x.version,
                    x.title,
                    x.before,
                    text_status(&x.text)
                );
            }
            let _ = writeln!(out, "read {} versions; {} still wait for OCR", r.results.len(), r.still_pending);
        }
        Response::Text(t) => {
            if let Some(info) = &t.info {
                let _ = writeln!(out, "# {} version {}: {}", t.doc.short(), t.version, text_status(info));
            } else {
                let _ = writeln!(
                    out,
                    "# {} version {}: not read yet (run `akten ocr --pending`)",
                    t.doc.short(),
                    t.version
                );
            }
            out.push_str(&t.text);
            if !t.text.ends_with('\n') && !t.text.is_empty() {
                out.push('\n');
            }
        }
    }
    out
}

/// `ok, 1234 characters, 2 pages (1 by OCR, deu)`, `awaiting OCR`, ...
pub fn text_status(info: &akten::model::TextInfo) -> String {
    use akten::model::TextStatus;
    let mut s = match &info.status {
        TextStatus::Ok => "text ok".to_string(),
        TextStatus::Partial(why) => format!("text partial ({why})"),
        TextStatus::Empty => "no text (empty pages)".to_string(),
        TextStatus::Encrypted => "no text (encrypted: needs a password)".to_string(),
        TextStatus::AwaitingOcr => "awaiting OCR (run `akten ocr --pending` once tesseract is installed)".to_string(),
        TextStatus::Failed(why) => format!("no text: {why}"),
        TextStatus::Unsupported => "no text (format not read)".to_string(),
    };
    if info.chars > 0 {
        let _ = write!(s, ", {} characters", info.chars);
    }
    if let Some(pages) = info.pages {
        let _ = write!(s, ", {pages} pages");
        if info.ocr_pages > 0 {
            let lang = info.ocr_language.as_deref().unwrap_or("?");
            let _ = write!(s, " ({} by OCR, {lang})", info.ocr_pages);
        }
    }
    s
}

fn hit_lines(out: &mut String, hit: &SearchHit) {
    let place = match (&hit.vorgangszeichen, &hit.aktenzeichen) {
        (Some(vz), _) => vz.to_string(),
        (None, Some(az)) => az.to_string(),
        (None, None) => "Posteingang".to_string(),
    };
    let date = hit.date.or(hit.received).map(|d| d.to_string()).unwrap_or_default();
    let _ = writeln!(out, "{}  {place}  {date}  {}", hit.doc.short(), hit.title);
    if let Some(snippet) = &hit.snippet {
        let _ = writeln!(out, "    {}", marked(snippet));
    }
}

/// The snippet with its matches between asterisks.
pub fn marked(snippet: &Snippet) -> String {
    let mut out = String::with_capacity(snippet.text.len() + 4 * snippet.marks.len());
    let mut at = 0;
    for &(start, end) in &snippet.marks {
        if start < at
            || end > snippet.text.len()
            || !snippet.text.is_char_boundary(start)
            || !snippet.text.is_char_boundary(end)
        {
            continue;
        }
        out.push_str(&snippet.text[at..start]);
        out.push('*');
        out.push_str(&snippet.text[start..end]);
        out.push('*');
        at = end;
    }
    out.push_str(&snippet.text[at..]);
    out
}

fn place_detail(place: &Place) -> String {
    match place {
        Place::Posteingang => "Posteingang (not filed yet)".to_string(),
        Place::Discarded => "discard list (taken out of the Posteingang, waiting for disposal)".to_string(),
        Place::Akte { aktenzeichen, title } => format!("Akte {aktenzeichen}  {title}"),
        Place::Vorgang { vorgangszeichen, title } => format!("Vorgang {vorgangszeichen}  {title}"),
    }
}

fn value(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::Null => "–".to_string(),
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(size(0), "0 B");
        assert_eq!(size(1023), "1023 B");
        assert_eq!(size(1536), "1.5 KiB");
        assert_eq!(size(100 * 1024 * 1024), "100.0 MiB");
    }
}
