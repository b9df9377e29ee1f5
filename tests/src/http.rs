//! A phone that syncs with a real relay over HTTP, and small helpers for the
//! relay's JSON API.

use std::time::Duration;

use reqwest::StatusCode;
use reqwest::blocking::Client;
use serde_json::{Value, json};
use sync_core::store::Clock;
use sync_core::sync::{self, SyncReport};
use sync_core::{Role, ScopePath, Store, UserId};

use crate::{Phone, relay_peer};

/// A blocking HTTP client with short timeouts, for tests.
pub fn client() -> Client {
    Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("build HTTP client")
}

/// Why an HTTP sync failed.
#[derive(Debug)]
pub struct HttpError {
    /// The status, if the relay answered.
    pub status: Option<StatusCode>,
    /// The body or the transport error.
    pub message: String,
}

impl std::fmt::Display for HttpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}: {}", self.status, self.message)
    }
}

/// A phone logged in to a relay.
pub struct HttpPhone {
    /// The phone's store and user.
    pub phone: Phone,
    /// The relay's base URL.
    pub base: String,
    /// The current access token.
    pub access: String,
    /// The current refresh token.
    pub refresh: String,
    client: Client,
}

/// Logs in over the API and returns the whole JSON answer.
pub fn login(base: &str, username: &str, password: &str, device: &str) -> Result<Value, HttpError> {
    login_with_key(base, username, password, device, None)
}

/// Logs in over the API, registering the device's public key (a phone that
/// syncs must), and returns the whole JSON answer.
pub fn login_with_key(
    base: &str,
    username: &str,
    password: &str,
    device: &str,
    public_key: Option<&str>,
) -> Result<Value, HttpError> {
    let response = client()
        .post(format!("{base}/v1/auth/login"))
        .json(
            &json!({"username": username, "password": password, "device_id": device,
                      "device_name": "test", "public_key": public_key}),
        )
        .send()
        .map_err(|e| HttpError {
            status: None,
            message: e.to_string(),
        })?;
    let status = response.status();
    let body: Value = response.json().unwrap_or(Value::Null);
    if status.is_success() {
        Ok(body)
    } else {
        Err(HttpError {
            status: Some(status),
            message: body.to_string(),
        })
    }
}

impl HttpPhone {
    /// A fresh phone (in-memory store) logged in as `username`.
    pub fn login(
        base: &str,
        username: &str,
        password: &str,
        clock: Clock,
    ) -> Result<Self, HttpError> {
        Self::login_with(
            base,
            username,
            password,
            Store::open_in_memory()
                .expect("open store")
                .with_clock(clock),
        )
    }

    /// A phone over the given store, logged in as `username`.
    pub fn login_with(
        base: &str,
        username: &str,
        password: &str,
        mut store: Store,
    ) -> Result<Self, HttpError> {
        let key = store.public_key().expect("device key").to_string();
        let sent_at = store.device_clock();
        let answer = login_with_key(
            base,
            username,
            password,
            &store.id().to_string(),
            Some(&key),
        )?;
        // As the phone library does: the phone's clock is corrected by the
        // relay's from the login on.
        let relay_now = answer["server_time_ms"].as_i64().unwrap_or(0);
        store
            .learn_clock(sent_at, relay_now)
            .expect("learn the clock");
        let user = &answer["user"];
        let role: Role = user["role"]
            .as_str()
            .unwrap_or_default()
            .parse()
            .expect("role");
        let scopes = user["scopes"]
            .as_array()
            .expect("scopes")
            .iter()
            .map(|s| ScopePath::new(s.as_str().unwrap_or_default()).expect("scope"))
            .collect();
        Ok(Self {
            phone: Phone::over(store, UserId::new(username).expect("user"), role, scopes),
            base: base.to_owned(),
            access: answer["access_token"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
            refresh: answer["refresh_token"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
            client: client(),
        })
    }

    /// Syncs with the relay until nothing is left.
    pub fn sync(&mut self) -> Result<SyncReport, HttpError> {
        let url = format!("{}/v1/sync", self.base);
        let (client, token) = (&self.client, &self.access);
        let scopes = self.phone.scopes.clone();
        sync::drive(&mut self.phone.store, &relay_peer(), &scopes, |request| {
            let response = client
                .post(&url)
                .bearer_auth(token)
                .header("content-type", server_media_type())
                .body(request)
                .send()
                .map_err(|e| HttpError {
                    status: None,
                    message: e.to_string(),
                })?;
            let status = response.status();
            let is_sync = response
                .headers()
                .get("content-type")
                .is_some_and(|v| v.as_bytes() == server_media_type().as_bytes());
            let bytes = response.bytes().map_err(|e| HttpError {
                status: Some(status),
                message: e.to_string(),
            })?;
            // Refusals come with 403/422 but still carry the engine's answer.
            if status.is_success() || is_sync {
                Ok(bytes.to_vec())
            } else {
                Err(HttpError {
                    status: Some(status),
                    message: String::from_utf8_lossy(&bytes).into_owned(),
                })
            }
        })
        .map_err(|e| match e {
            sync::DriveError::Transport(e) => e,
            sync::DriveError::Core(e) => HttpError {
                status: None,
                message: e.to_string(),
            },
        })
    }

    /// Uploads this phone's photo queue as plainly as the protocol allows:
    /// for each photo, `HEAD` for where the relay's copy stands, then one
    /// `PATCH` of the rest. Returns how many bytes were sent.
    pub fn upload_photos(&mut self) -> Result<u64, HttpError> {
        let failed = |status, message: String| HttpError { status, message };
        let mut sent = 0;
        for upload in self.phone.store.photos_to_upload().map_err(core_error)? {
            let sha = upload.sha256;
            let url = format!("{}/v1/photos/{sha}", self.base);
            let head = self
                .client
                .head(&url)
                .bearer_auth(&self.access)
                .send()
                .map_err(|e| failed(None, e.to_string()))?;
            let header = |name: &str| {
                head.headers()
                    .get(name)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned)
            };
            if header("photo-stored").as_deref() != Some("true") {
                let data = self
                    .phone
                    .store
                    .photo_data(&sha)
                    .map_err(core_error)?
                    .ok_or_else(|| failed(None, format!("no bytes of {sha}")))?;
                let length = data.len() as u64;
                let offset = match (header("upload-offset"), header("upload-length")) {
                    (Some(offset), Some(declared)) if declared == length.to_string() => {
                        offset.parse().unwrap_or(0)
                    }
                    _ => 0,
                };
                let rest = data[usize::try_from(offset).unwrap_or(0)..].to_vec();
                sent += rest.len() as u64;
                let response = self
                    .client
                    .patch(&url)
                    .bearer_auth(&self.access)
                    .header("content-type", "application/offset+octet-stream")
                    .header("upload-offset", offset)
                    .header("upload-length", length)
                    .body(rest)
                    .send()
                    .map_err(|e| failed(None, e.to_string()))?;
                let status = response.status();
                if !status.is_success() {
                    return Err(failed(Some(status), response.text().unwrap_or_default()));
                }
            }
            self.phone.store.photo_uploaded(&sha).map_err(core_error)?;
        }
        Ok(sent)
    }

    /// Trades the refresh token for a new pair.
    pub fn refresh(&mut self) -> Result<(), HttpError> {
        let response = self
            .client
            .post(format!("{}/v1/auth/refresh", self.base))
            .json(&json!({"refresh_token": self.refresh}))
            .send()
            .map_err(|e| HttpError {
                status: None,
                message: e.to_string(),
            })?;
        let status = response.status();
        let body: Value = response.json().unwrap_or(Value::Null);
        if !status.is_success() {
            return Err(HttpError {
                status: Some(status),
                message: body.to_string(),
            });
        }
        self.access = body["access_token"].as_str().unwrap_or_default().to_owned();
        self.refresh = body["refresh_token"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        Ok(())
    }
}

fn core_error(e: sync_core::Error) -> HttpError {
    HttpError {
        status: None,
        message: e.to_string(),
    }
}

fn server_media_type() -> &'static str {
    "application/vnd.doorstep.sync"
}

/// A JSON API session for a dashboard user.
pub struct Api {
    /// Base URL.
    pub base: String,
    /// Access token.
    pub token: String,
    client: Client,
}

impl Api {
    /// Logs in as `username` from a fresh device id.
    pub fn login(base: &str, username: &str, password: &str) -> Result<Self, HttpError> {
        let answer = login(base, username, password, &uuid_like())?;
        Ok(Self {
            base: base.to_owned(),
            token: answer["access_token"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
            client: client(),
        })
    }

    /// `GET path` → (status, JSON body).
    pub fn get(&self, path: &str) -> (StatusCode, Value) {
        let response = self
            .client
            .get(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .send()
            .expect("relay answers");
        let status = response.status();
        (status, response.json().unwrap_or(Value::Null))
    }

    /// `GET path` → (status, raw body).
    pub fn get_text(&self, path: &str) -> (StatusCode, Vec<u8>) {
        let response = self
            .client
            .get(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .send()
            .expect("relay answers");
        let status = response.status();
        (
            status,
            response.bytes().map(|b| b.to_vec()).unwrap_or_default(),
        )
    }

    /// `POST path` with a JSON body → (status, JSON body).
    pub fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        let response = self
            .client
            .post(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .json(&body)
            .send()
            .expect("relay answers");
        let status = response.status();
        (status, response.json().unwrap_or(Value::Null))
    }

    /// `PATCH path` with a JSON body → (status, JSON body).
    pub fn patch(&self, path: &str, body: Value) -> (StatusCode, Value) {
        let response = self
            .client
            .patch(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .json(&body)
            .send()
            .expect("relay answers");
        let status = response.status();
        (status, response.json().unwrap_or(Value::Null))
    }
}

/// A fresh device id.
pub fn uuid_like() -> String {
    sync_core::DeviceId::random().to_string()
}
