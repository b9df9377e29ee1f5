//! The wire format: versioned, size-limited, decoded without panics.
//!
//! A message is `DSTP` (4 bytes), the protocol version (u16, little endian),
//! a flags byte (bit 0: the body is zstd-compressed) and the body: a postcard
//! encoding of [`Message`]. Limits are checked before and after
//! decompression, so a small compressed bomb cannot exhaust memory.

use std::io::Read;

use super::messages::{Message, Payload, RecordUpdate};

/// The first four bytes of every message.
pub const MAGIC: [u8; 4] = *b"DSTP";
/// The protocol version this build speaks. Version 2 carries change
/// signatures, feed epochs and clocks; a version 1 app is told to update.
pub const PROTOCOL_VERSION: u16 = 2;
/// The oldest protocol version this build still accepts.
pub const MIN_PROTOCOL_VERSION: u16 = 2;
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
/// The most records one reconciliation page lists.
pub const MAX_RECONCILE: usize = 5_000;
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
            Message::Response(r) => {
                let listed = r.reconcile.as_ref().map_or(0, |p| p.records.len());
                limit("records listed", listed, MAX_RECONCILE)?;
                (
                    r.pull.len() + r.accepted.len() + r.rejected.len(),
                    vec![&r.pull],
                )
            }
        };
        limit("records", records, MAX_RECORDS)?;
        for update in lists.into_iter().flatten() {
            limit("record payload", update.payload.size(), MAX_RECORD_BYTES)?;
            // A signature per change at most, plus one per change of a whole document.
            limit("signatures of one record", update.sigs.len(), MAX_CHANGES)?;
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
    use crate::ids::{DeviceId, RecordId, ScopePath};
    use crate::sync::messages::SyncRequest;
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
                sigs: vec![],
            }],
            need_full: vec![RecordId::random()],
            scopes: vec![ScopePath::new("longgang/yuanshan").unwrap()],
            ..SyncRequest::default()
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
    fn newer_and_older_versions_are_refused_clearly() {
        for version in [1u8, 9] {
            let mut bytes = sample().encode().unwrap();
            bytes[4] = version;
            match Message::decode(&bytes) {
                Err(WireError::UnsupportedVersion {
                    got,
                    min: 2,
                    max: 2,
                }) => {
                    assert_eq!(got, u16::from(version));
                }
                other => panic!("version {version}: {other:?}"),
            }
        }
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
