//! The audit log: append-only, hash-chained events.
//!
//! Every mutation of the store records one or more [`AuditEvent`]s in the
//! same catalog transaction as the change itself. Each event carries the
//! blake3 hash of its predecessor (`prev`) and its own hash, computed over
//! its canonical JSON form without the `hash` field. Editing, removing or
//! reordering any event breaks the chain, which [`check_chain`] detects.
//! Reads are not recorded.
//!
//! Pure: sealing and checking take and return values; the catalog stores
//! the events.

use std::fmt;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::model::Actor;

/// The `prev` of the first event.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// What kind of object an event is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ObjectKind {
    Store,
    Plan,
    Akte,
    Vorgang,
    Dokument,
    Blob,
}

impl ObjectKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ObjectKind::Store => "store",
            ObjectKind::Plan => "plan",
            ObjectKind::Akte => "akte",
            ObjectKind::Vorgang => "vorgang",
            ObjectKind::Dokument => "dokument",
            ObjectKind::Blob => "blob",
        }
    }
}

/// The object an event is about, or one it touched.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectRef {
    pub kind: ObjectKind,
    /// UUID for Akten, Vorgänge and Dokumente; plan version; blob hex.
    pub id: String,
    /// The human key at the time: Aktenzeichen, Vorgangszeichen, title.
    pub label: Option<String>,
}

impl fmt::Display for ObjectRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.label {
            Some(label) => write!(f, "{} {label}", self.kind.as_str()),
            None => write!(f, "{} {}", self.kind.as_str(), self.id),
        }
    }
}

/// One changed field: its value before and after (JSON).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Change {
    pub field: String,
    pub before: serde_json::Value,
    pub after: serde_json::Value,
}

impl Change {
    pub fn new(field: &str, before: impl Serialize, after: impl Serialize) -> Change {
        Change {
            field: field.to_string(),
            before: serde_json::to_value(before).unwrap_or(serde_json::Value::Null),
            after: serde_json::to_value(after).unwrap_or(serde_json::Value::Null),
        }
    }
}

/// An event before it is given its place in the chain.
#[derive(Clone, Debug, PartialEq)]
pub struct NewEvent {
    pub at: Timestamp,
    pub actor: Actor,
    /// `akte.open`, `dokument.add`, ...
    pub action: String,
    pub object: ObjectRef,
    pub related: Vec<ObjectRef>,
    pub changes: Vec<Change>,
}

/// A recorded event.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AuditEvent {
    pub seq: u64,
    pub at: Timestamp,
    pub actor: Actor,
    pub action: String,
    pub object: ObjectRef,
    pub related: Vec<ObjectRef>,
    pub changes: Vec<Change>,
    /// Hash of the previous event, [`GENESIS`] for the first.
    pub prev: String,
    /// blake3 of this event's canonical form without this field.
    pub hash: String,
}

/// The canonical form that is hashed: the event's fields in this fixed
/// order, `hash` left out, serialised as compact JSON.
#[derive(Serialize)]
struct Canonical<'a> {
    seq: u64,
    at: &'a Timestamp,
    actor: &'a Actor,
    action: &'a str,
    object: &'a ObjectRef,
    related: &'a [ObjectRef],
    changes: &'a [Change],
    prev: &'a str,
}

impl AuditEvent {
    /// The hash this event should carry, computed from its other fields.
    pub fn compute_hash(&self) -> String {
        let canonical = Canonical {
            seq: self.seq,
            at: &self.at,
            actor: &self.actor,
            action: &self.action,
            object: &self.object,
            related: &self.related,
            changes: &self.changes,
            prev: &self.prev,
        };
        let bytes = serde_json::to_vec(&canonical).expect("audit events serialise");
        blake3::hash(&bytes).to_hex().to_string()
    }
}

/// The end of the chain: the last event's number and hash.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainHead {
    pub seq: u64,
    pub hash: String,
}

impl ChainHead {
    pub fn empty() -> ChainHead {
        ChainHead { seq: 0, hash: GENESIS.to_string() }
    }

    /// Gives `event` the next place in the chain.
    pub fn seal(&mut self, event: NewEvent) -> AuditEvent {
        let mut sealed = AuditEvent {
            seq: self.seq + 1,
            at: event.at,
            actor: event.actor,
            action: event.action,
            object: event.object,
            related: event.related,
            changes: event.changes,
            prev: self.hash.clone(),
            hash: String::new(),
        };
        sealed.hash = sealed.compute_hash();
        self.seq = sealed.seq;
        self.hash = sealed.hash.clone();
        sealed
    }
}

impl fmt::Display for ChainHead {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "event {} {}", self.seq, self.hash)
    }
}

/// A break in the chain.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ChainProblem {
    /// The event's content does not match its own hash: it was edited.
    Altered { seq: u64 },
    /// The event does not name its predecessor's hash.
    Unlinked { seq: u64 },
    /// Event numbers are not consecutive: events are missing.
    Gap { after: u64, next: u64 },
    /// The recorded head does not match the last event.
    HeadMismatch { head: ChainHead, last: ChainHead },
}

/// Walks events in order and reports every break, then compares the end of
/// the chain with the `head` the catalog recorded.
pub fn check_chain<'a>(events: impl IntoIterator<Item = &'a AuditEvent>, head: &ChainHead) -> Vec<ChainProblem> {
    let mut problems = Vec::new();
    let mut last = ChainHead::empty();
    for event in events {
        if event.seq != last.seq + 1 {
            problems.push(ChainProblem::Gap { after: last.seq, next: event.seq });
        }
        if event.prev != last.hash {
            problems.push(ChainProblem::Unlinked { seq: event.seq });
        }
        if event.compute_hash() != event.hash {
            problems.push(ChainProblem::Altered { seq: event.seq });
        }
        last = ChainHead { seq: event.seq, hash: event.hash.clone() };
    }
    if &last != head {
        problems.push(ChainProblem::HeadMismatch { head: head.clone(), last });
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(action: &str) -> NewEvent {
        NewEvent {
            at: "2026-12-04T10:00:00Z".parse().unwrap(),
            actor: Actor::new("clerk"),
            action: action.to_string(),
            object: ObjectRef { kind: ObjectKind::Akte, id: "x".into(), label: Some("000.01-0001/2026".into()) },
            related: vec![],
            changes: vec![Change::new("titel", None::<String>, "Rat 2026")],
        }
    }

    fn chain(n: usize) -> (Vec<AuditEvent>, ChainHead) {
        let mut head = ChainHead::empty();
        let events = (0..n).map(|i| head.seal(event(&format!("a{i}")))).collect();
        (events, head)
    }

    #[test]
    fn intact_chain_has_no_problems() {
        let (events, head) = chain(5);
        assert_eq!(events[0].prev, GENESIS);
        assert_eq!(events[1].prev, events[0].hash);
        assert!(check_chain(&events, &head).is_empty());
    }

    #[test]
    fn edit_removal_and_truncation_are_found() {
        let (mut events, head) = chain(5);
        events[2].actor = Actor::new("someone else");
        assert_eq!(check_chain(&events, &head), vec![ChainProblem::Altered { seq: 3 }]);

        let (mut events, head) = chain(5);
        events.remove(2);
        let problems = check_chain(&events, &head);
        assert!(problems.contains(&ChainProblem::Gap { after: 2, next: 4 }));
        assert!(problems.contains(&ChainProblem::Unlinked { seq: 4 }));

        let (mut events, head) = chain(5);
        events.pop();
        assert!(matches!(check_chain(&events, &head)[..], [ChainProblem::HeadMismatch { .. }]));
    }

    #[test]
    fn rehashing_an_edited_event_still_breaks_the_link() {
        let (mut events, head) = chain(3);
        events[0].action = "forged".into();
        events[0].hash = events[0].compute_hash();
        assert_eq!(check_chain(&events, &head), vec![ChainProblem::Unlinked { seq: 2 }]);
    }
}
