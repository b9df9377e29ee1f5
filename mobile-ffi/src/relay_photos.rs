//! The relay's photo endpoints as the phone calls them: how far an upload
//! has come (`HEAD`), more bytes from there (`PATCH`), and a card's photo
//! (`GET`). They move bytes; what to send when is in `photos.rs`.

use ureq::http::Response;

use crate::relay::{Answer, Failure, RelayClient, check_status, classify};

/// The largest photo answer read (a photo is at most 2 MB).
const MAX_PHOTO_ANSWER: u64 = 4 << 20;

/// Where the relay stands with one of this phone's photos.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Held {
    /// It holds verified bytes: nothing to send.
    Stored,
    /// It holds this many bytes of this phone's upload (declared this long).
    At { offset: u64, length: Option<u64> },
}

/// What the relay said to bytes sent.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Sent {
    /// The photo is whole, verified and stored.
    Stored,
    /// It took them; the upload now stands at this offset.
    Partial(u64),
}

/// What a fetch brought.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Fetched {
    /// The bytes.
    Bytes(Vec<u8>),
    /// The card refers to it, and its bytes have not reached the relay.
    Pending { from: Option<String> },
    /// A supervisor removed it.
    Removed,
}

fn header_u64(response: &Response<ureq::Body>, name: &str) -> Option<u64> {
    response
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok())
}

fn read(mut response: Response<ureq::Body>) -> Result<Answer, Failure> {
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let body = response
        .body_mut()
        .with_config()
        .limit(MAX_PHOTO_ANSWER)
        .read_to_vec()
        .map_err(classify)?;
    Ok(Answer {
        status,
        content_type,
        body,
    })
}

/// A HEAD answer's status as a failure (it has no body to say more).
fn head_failure(status: u16) -> Failure {
    let code = match status {
        410 => "photo_purged",
        401 => "invalid_token",
        403 => "device_revoked",
        507 => "storage_full",
        503 => "storage_unavailable",
        _ => "",
    };
    Failure::Status {
        status,
        code: code.to_owned(),
        message: format!("HTTP {status}"),
    }
}

impl RelayClient {
    /// `HEAD /v1/photos/{sha256}`.
    pub(crate) fn photo_progress(&self, token: &str, sha256: &str) -> Result<Held, Failure> {
        let response = self
            .agent
            .head(format!("{}/v1/photos/{sha256}", self.base))
            .header("authorization", format!("Bearer {token}"))
            .call()
            .map_err(classify)?;
        let status = response.status().as_u16();
        if status != 200 {
            return Err(head_failure(status));
        }
        if response
            .headers()
            .get("photo-stored")
            .is_some_and(|v| v == "true")
        {
            return Ok(Held::Stored);
        }
        Ok(Held::At {
            offset: header_u64(&response, "upload-offset").unwrap_or(0),
            length: header_u64(&response, "upload-length"),
        })
    }

    /// `PATCH /v1/photos/{sha256}`: `bytes` from `offset` of a photo
    /// `length` long.
    pub(crate) fn photo_send(
        &self,
        token: &str,
        sha256: &str,
        length: u64,
        offset: u64,
        bytes: &[u8],
    ) -> Result<Sent, Failure> {
        let response = self
            .agent
            .patch(format!("{}/v1/photos/{sha256}", self.base))
            .header("authorization", format!("Bearer {token}"))
            .header("content-type", "application/offset+octet-stream")
            .header("upload-offset", offset.to_string())
            .header("upload-length", length.to_string())
            .send(bytes)
            .map_err(classify)?;
        if response.status().as_u16() == 204 {
            let at = header_u64(&response, "upload-offset").unwrap_or(offset);
            return Ok(Sent::Partial(at));
        }
        check_status(read(response)?)?;
        Ok(Sent::Stored)
    }

    /// `GET /v1/records/{record}/photos/{sha256}` (or its `/thumb`).
    pub(crate) fn photo_fetch(
        &self,
        token: &str,
        record: &str,
        sha256: &str,
        thumbnail: bool,
    ) -> Result<Fetched, Failure> {
        let suffix = if thumbnail { "/thumb" } else { "" };
        let response = self
            .agent
            .get(format!(
                "{}/v1/records/{record}/photos/{sha256}{suffix}",
                self.base
            ))
            .header("authorization", format!("Bearer {token}"))
            .call()
            .map_err(classify)?;
        let answer = read(response)?;
        match answer.status {
            200 => Ok(Fetched::Bytes(answer.body)),
            410 => Ok(Fetched::Removed),
            409 => {
                let body: serde_json::Value =
                    serde_json::from_slice(&answer.body).unwrap_or_default();
                if body["error"] == "photo_pending" {
                    Ok(Fetched::Pending {
                        from: body["device"].as_str().map(str::to_owned),
                    })
                } else {
                    check_status(answer).map(|_| Fetched::Removed)
                }
            }
            _ => check_status(answer).map(|a| Fetched::Bytes(a.body)),
        }
    }
}
