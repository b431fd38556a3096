//! TEMPORARY stand-in until branch `qr` lands (payload only).

use jiff::civil::Date;

use crate::model::{Aktenzeichen, DocKind, Vorgangszeichen};

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CoverTarget {
    Separator,
    Target { akte: Aktenzeichen, vorgang: Option<Vorgangszeichen>, kind: Option<DocKind>, received: Option<Date> },
}

#[derive(Debug, thiserror::Error)]
pub enum PayloadError {
    #[error("not an akten cover sheet")]
    NotACoverSheet,
    #[error("bad cover sheet: {0}")]
    Bad(String),
}

/// Printed on every sheet, so a born-digital sheet is found by its text.
pub const MARKER: &str = "AKTEN-DECKBLATT";

pub fn encode(target: &CoverTarget) -> String {
    match target {
        CoverTarget::Separator => "AKTEN1|separator".into(),
        CoverTarget::Target { akte, vorgang, kind, received } => {
            let mut s = format!("AKTEN1|akte={akte}");
            if let Some(v) = vorgang {
                s.push_str(&format!("|vorgang={v}"));
            }
            if let Some(k) = kind {
                s.push_str(&format!("|kind={}", k.as_str()));
            }
            if let Some(r) = received {
                s.push_str(&format!("|received={r}"));
            }
            s
        }
    }
}

pub fn parse(text: &str) -> Result<CoverTarget, PayloadError> {
    let Some(rest) = text.strip_prefix("AKTEN1|") else { return Err(PayloadError::NotACoverSheet) };
    if rest == "separator" {
        return Ok(CoverTarget::Separator);
    }
    let (mut akte, mut vorgang, mut kind, mut received) = (None, None, None, None);
    for field in rest.split('|') {
        match field.split_once('=') {
            Some(("akte", v)) => akte = Some(Aktenzeichen::new(v)),
            Some(("vorgang", v)) => vorgang = Some(Vorgangszeichen::new(v)),
            Some(("kind", v)) => kind = serde_json::from_value(serde_json::Value::String(v.into())).ok(),
            Some(("received", v)) => received = v.parse::<Date>().ok(),
            _ => {}
        }
    }
    let akte = akte.ok_or_else(|| PayloadError::Bad("no akte".into()))?;
    Ok(CoverTarget::Target { akte, vorgang, kind, received })
}

pub struct CoverSheetPrint {
    pub target: CoverTarget,
    pub akte_title: Option<String>,
    pub vorgang_title: Option<String>,
    pub position: Option<String>,
}

pub fn render_pdf(_sheet: &CoverSheetPrint) -> Vec<u8> {
    Vec::new()
}
