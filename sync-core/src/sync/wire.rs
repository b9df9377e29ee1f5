//! The wire format: versioned, size-limited, decoded without panics.
//!
//! A message is `DSTP` (4 bytes), the protocol version (u16, little endian),
//! a flags byte (bit 0: the body is zstd-compressed) and the body: a postcard
//! encoding of [`Message`]. Limits are checked before and after
//! decompression, so a small compressed bomb cannot exhaust memory.

use std::io::Read;

use serde::{Deserialize, Serialize};

use crate::ids::{DeviceId, RecordId, ScopePath};

/// The first four bytes of every message.
pub const MAGIC: [u8; 4] = *b"DSTP";
/// The protocol version this build speaks.
pub const PROTOCOL_VERSION: u16 = 1;
/// The oldest protocol version this build still accepts.
pub const MIN_PROTOCOL_VERSION: u16 = 1;
/// The largest message accepted on the wire.
pub const MAX_MESSAGE_BYTES: usize = 16 << 20;
/// The largest message body accepted after decompression.
pub const MAX_BODY_BYTES: usize = 64 << 20;
/// The most records one message may carry.
pub const MAX_RECORDS: usize = 20_000;
/// The largest single record payload (a document or a batch of changes).
pub const MAX_RECORD_BYTES: usize = 4 << 20;
/// The most changes one record update may carry.
pub const MAX_CHANGES: usize = 10_000;
/// Bodies larger than this are compressed.
const COMPRESS_ABOVE: usize = 512;
const HEADER: usize = 7;

/// Why bytes are not a valid message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// Too short, or not starting with `DSTP`.
    #[error("not a Doorstep sync message")]
    NotAMessage,
    /// Spoken by a newer (or much older) app.
    #[error("protocol version {got} is not supported (this side speaks {min}..={max})")]
    UnsupportedVersion {
        /// The version in the message.
        got: u16,
        /// Oldest accepted.
        min: u16,
        /// Newest accepted.
        max: u16,
    },
    /// Over a hard size limit.
    #[error("message too large: {what} is {size}, the limit is {limit}")]
    TooLarge {
        /// What was too large.
        what: &'static str,
        /// Its size.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// Unknown flag bits.
    #[error("unknown flags {0:#04x}")]
    UnknownFlags(u8),
    /// The compressed body is damaged.
    #[error("damaged compressed body")]
    Decompress,
    /// The body does not decode.
    #[error("malformed body: {0}")]
    Malformed(String),
}

/// Everything the engine sends.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Message {
    /// Opens a phone-to-phone exchange: who I am and what I want.
    PeerHello(PeerHello),
    /// A client's push and pull request.
    Request(SyncRequest),
    /// The answer to a request.
    Response(SyncResponse),
}

/// Opens a phone-to-phone exchange.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PeerHello {
    /// The opening store's id.
    pub from: DeviceId,
    /// The scopes the opening phone keeps: the other phone sends it nothing else.
    pub scopes: Vec<ScopePath>,
}

/// A client's request: what it changed, and where it is in the server's feed.
#[derive(Clone, Debug, PartialEq, Default, Serialize, Deserialize)]
pub struct SyncRequest {
    /// The client's store id.
    pub from: DeviceId,
    /// The server feed position the client has applied up to.
    pub cursor: u64,
    /// The feed position up to which the client holds everything: the cursor
    /// of its last pull that finished (not one in the middle of paging). The
    /// server only assumes the client has a record as it was at or before
    /// this position.
    pub since: u64,
    /// Records the client changed since the server last acknowledged them.
    pub push: Vec<RecordUpdate>,
    /// Records the client could not apply incrementally and wants whole.
    pub need_full: Vec<RecordId>,
    /// The scopes the client wants to receive (phone to phone; a relay uses
    /// the scopes of the authenticated user instead).
    pub scopes: Vec<ScopePath>,
}

/// One record's update.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RecordUpdate {
    /// The record.
    pub id: RecordId,
    /// The sender's heads for the record after this update.
    pub heads: Vec<[u8; 32]>,
    /// The data.
    pub payload: Payload,
}

/// A record's data: a whole document or the changes on top of shared heads.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Payload {
    /// A saved Automerge document.
    Full(Vec<u8>),
    /// Automerge changes on top of heads both sides have.
    Changes {
        /// The heads the changes build on.
        base: Vec<[u8; 32]>,
        /// Each change's bytes.
        changes: Vec<Vec<u8>>,
    },
}

impl Payload {
    /// Bytes of record data carried.
    pub fn size(&self) -> usize {
        match self {
            Payload::Full(bytes) => bytes.len(),
            Payload::Changes { changes, base } => {
                changes.iter().map(Vec::len).sum::<usize>() + base.len() * 32
            }
        }
    }
}

/// Why the server refused one record. Refusals are per record: the rest of
/// the sync goes through.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RejectCode {
    /// The record lies outside the scopes the user may write.
    Scope,
    /// The user's role may not append one of the workflow events.
    Role,
    /// A workflow event that the card's state does not allow.
    Workflow,
    /// A change was made by another device than the one sending it.
    Actor,
    /// An existing workflow event was altered or removed.
    History,
    /// The data is not a valid Doorstep record.
    Invalid,
    /// Over a size limit.
    TooLarge,
    /// The server lacks what the changes build on; send the whole document.
    NeedFull,
}

impl RejectCode {
    /// True when the same data may succeed later without the user acting.
    pub fn is_retryable(&self) -> bool {
        matches!(self, RejectCode::NeedFull)
    }

    /// The stable text form.
    pub fn as_str(&self) -> &'static str {
        match self {
            RejectCode::Scope => "scope",
            RejectCode::Role => "role",
            RejectCode::Workflow => "workflow",
            RejectCode::Actor => "actor",
            RejectCode::History => "history",
            RejectCode::Invalid => "invalid",
            RejectCode::TooLarge => "too_large",
            RejectCode::NeedFull => "need_full",
        }
    }
}

/// One refused record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rejected {
    /// The record.
    pub id: RecordId,
    /// Why, as a code.
    pub code: RejectCode,
    /// Why, for a person.
    pub reason: String,
}

/// The server's answer.
#[derive(Clone, Debug, PartialEq, Default, Serialize, Deserialize)]
pub struct SyncResponse {
    /// The server's store id.
    pub from: DeviceId,
    /// Pushed records the server now holds (accepted, or already had).
    pub accepted: Vec<RecordId>,
    /// Pushed records the server refused.
    pub rejected: Vec<Rejected>,
    /// Records that changed in the client's scopes since its cursor.
    pub pull: Vec<RecordUpdate>,
    /// The feed position the client reaches by applying `pull`.
    pub cursor: u64,
    /// True when more changes wait: send another request from `cursor`.
    pub more: bool,
}

impl Message {
    /// Encodes the message, compressing large bodies.
    pub fn encode(&self) -> Result<Vec<u8>, WireError> {
        let body = postcard::to_stdvec(self).map_err(|e| WireError::Malformed(e.to_string()))?;
        let (flags, body) = if body.len() > COMPRESS_ABOVE {
            let packed = zstd::bulk::compress(&body, 3).map_err(|_| WireError::Decompress)?;
            (1u8, packed)
        } else {
            (0u8, body)
        };
        if body.len() + HEADER > MAX_MESSAGE_BYTES {
            return Err(WireError::TooLarge {
                what: "message",
                size: body.len() + HEADER,
                limit: MAX_MESSAGE_BYTES,
            });
        }
        let mut out = Vec::with_capacity(HEADER + body.len());
        out.extend_from_slice(&MAGIC);
        out.extend_from_slice(&PROTOCOL_VERSION.to_le_bytes());
        out.push(flags);
        out.extend_from_slice(&body);
        Ok(out)
    }

    /// Decodes untrusted bytes. Never panics; every limit is enforced.
    pub fn decode(bytes: &[u8]) -> Result<Message, WireError> {
        if bytes.len() > MAX_MESSAGE_BYTES {
            return Err(WireError::TooLarge {
                what: "message",
                size: bytes.len(),
                limit: MAX_MESSAGE_BYTES,
            });
        }
        let (header, body) = bytes
            .split_at_checked(HEADER)
            .ok_or(WireError::NotAMessage)?;
        if header[..4] != MAGIC {
            return Err(WireError::NotAMessage);
        }
        let version = u16::from_le_bytes([header[4], header[5]]);
        if !(MIN_PROTOCOL_VERSION..=PROTOCOL_VERSION).contains(&version) {
            return Err(WireError::UnsupportedVersion {
                got: version,
                min: MIN_PROTOCOL_VERSION,
                max: PROTOCOL_VERSION,
            });
        }
        let message: Message = match header[6] {
            0 => postcard::from_bytes(body),
            1 => {
                let body = decompress(body)?;
                postcard::from_bytes(&body)
            }
            other => return Err(WireError::UnknownFlags(other)),
        }
        .map_err(|e| WireError::Malformed(e.to_string()))?;
        message.check_limits()?;
        Ok(message)
    }

    fn check_limits(&self) -> Result<(), WireError> {
        let (records, lists): (usize, Vec<&[RecordUpdate]>) = match self {
            Message::PeerHello(_) => (0, vec![]),
            Message::Request(r) => (r.push.len() + r.need_full.len(), vec![&r.push]),
            Message::Response(r) => (
                r.pull.len() + r.accepted.len() + r.rejected.len(),
                vec![&r.pull],
            ),
        };
        limit("records", records, MAX_RECORDS)?;
        for update in lists.into_iter().flatten() {
            limit("record payload", update.payload.size(), MAX_RECORD_BYTES)?;
            if let Payload::Changes { changes, .. } = &update.payload {
                limit("changes of one record", changes.len(), MAX_CHANGES)?;
            }
        }
        Ok(())
    }
}

fn limit(what: &'static str, size: usize, limit: usize) -> Result<(), WireError> {
    if size > limit {
        Err(WireError::TooLarge { what, size, limit })
    } else {
        Ok(())
    }
}

fn decompress(body: &[u8]) -> Result<Vec<u8>, WireError> {
    let decoder = zstd::stream::read::Decoder::new(body).map_err(|_| WireError::Decompress)?;
    let mut out = Vec::new();
    decoder
        .take(MAX_BODY_BYTES as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|_| WireError::Decompress)?;
    limit("decompressed body", out.len(), MAX_BODY_BYTES)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sample() -> Message {
        Message::Request(SyncRequest {
            from: DeviceId::random(),
            cursor: 42,
            since: 40,
            push: vec![RecordUpdate {
                id: RecordId::random(),
                heads: vec![[7; 32]],
                payload: Payload::Changes {
                    base: vec![[1; 32]],
                    changes: vec![vec![9; 2000]],
                },
            }],
            need_full: vec![RecordId::random()],
            scopes: vec![ScopePath::new("longgang/yuanshan").unwrap()],
        })
    }

    #[test]
    fn round_trip_and_compression() {
        let message = sample();
        let bytes = message.encode().unwrap();
        assert_eq!(bytes[6], 1, "a 2 KB body is compressed");
        assert!(bytes.len() < 500);
        assert_eq!(Message::decode(&bytes).unwrap(), message);
    }

    #[test]
    fn newer_versions_are_refused_clearly() {
        let mut bytes = sample().encode().unwrap();
        bytes[4] = 9;
        assert!(matches!(
            Message::decode(&bytes),
            Err(WireError::UnsupportedVersion { got: 9, .. })
        ));
    }

    #[test]
    fn a_decompression_bomb_is_stopped_at_the_limit() {
        let zeros = vec![0u8; MAX_BODY_BYTES + 10];
        let packed = zstd::bulk::compress(&zeros, 19).unwrap();
        let mut bytes = MAGIC.to_vec();
        bytes.extend_from_slice(&PROTOCOL_VERSION.to_le_bytes());
        bytes.push(1);
        bytes.extend_from_slice(&packed);
        assert!(matches!(
            Message::decode(&bytes),
            Err(WireError::TooLarge { .. })
        ));
    }

    proptest! {
        #[test]
        fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
            let _ = Message::decode(&bytes);
        }

        #[test]
        fn random_bodies_after_a_valid_header_never_panic(
            body in proptest::collection::vec(any::<u8>(), 0..2048),
            compressed in any::<bool>(),
        ) {
            let mut bytes = MAGIC.to_vec();
            bytes.extend_from_slice(&PROTOCOL_VERSION.to_le_bytes());
            bytes.push(u8::from(compressed));
            bytes.extend_from_slice(&body);
            let _ = Message::decode(&bytes);
        }

        #[test]
        fn every_truncation_of_a_valid_message_is_an_error(cut in 0usize..1000) {
            let bytes = sample().encode().unwrap();
            let cut = cut.min(bytes.len() - 1);
            prop_assert!(Message::decode(&bytes[..cut]).is_err());
        }
    }
}
