//! The JavaScript binding, for the app's dedicated worker: [`Field`] opens
//! the store in the Origin Private File System and forwards each call to
//! [`FieldApp`]. A failure throws an `Error` whose message is the JSON of a
//! [`FieldError`] (`{code, message}`).

use std::sync::Arc;

use rusqlite::{Connection, OpenFlags};
use sqlite_wasm_vfs::sahpool::{OpfsSAHPoolCfg, OpfsSAHPoolUtil, install};
use sync_core::Store;
use wasm_bindgen::prelude::*;

use crate::app::FieldApp;
use crate::error::FieldError;

/// The name the OPFS pool's VFS is registered under.
const VFS: &str = "opfs-sahpool";

fn thrown(e: FieldError) -> JsError {
    JsError::new(&e.to_json())
}

type JsResult<T> = Result<T, JsError>;

/// The browser's clock (ms). sync-core corrects it by the relay's.
fn browser_clock() -> sync_core::store::Clock {
    Arc::new(|| js_sys::Date::now() as i64)
}

/// The field app's store, open in this worker.
#[wasm_bindgen]
pub struct Field {
    app: Option<FieldApp>,
    /// The OPFS pool, paused on close so that another tab may open it.
    pool: Option<OpfsSAHPoolUtil>,
}

fn opened(store: Store, relay_url: &str) -> JsResult<FieldApp> {
    FieldApp::new(store.with_clock(browser_clock()), relay_url).map_err(thrown)
}

#[wasm_bindgen]
impl Field {
    /// Opens (creating it if needed) the database `name` in the Origin
    /// Private File System, for the relay at `relay_url`. Works only in a
    /// dedicated worker; fails with code `no_opfs` where the browser has no
    /// OPFS (private browsing, old browsers).
    pub async fn open(name: String, relay_url: String) -> JsResult<Field> {
        let no_opfs = |e: &dyn std::fmt::Display| {
            thrown(FieldError::new(
                "no_opfs",
                format!("this browser cannot keep the app's data on the phone ({e})"),
            ))
        };
        let pool = install::<sqlite_wasm_rs::WasmOsCallback>(&OpfsSAHPoolCfg::default(), false)
            .await
            .map_err(|e| no_opfs(&e))?;
        pool.unpause_vfs().await.map_err(|e| no_opfs(&e))?;
        let conn = Connection::open_with_flags_and_vfs(
            &name,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE,
            VFS,
        )
        .map_err(|e| thrown(e.into()))?;
        // The pool has no shared memory for WAL; a rollback journal in the
        // pool keeps each transaction whole through a crash.
        conn.pragma_update(None, "journal_mode", "TRUNCATE")
            .map_err(|e| thrown(e.into()))?;
        let store = Store::from_connection(conn).map_err(|e| thrown(e.into()))?;
        Ok(Field {
            app: Some(opened(store, &relay_url)?),
            pool: Some(pool),
        })
    }

    /// A store in memory, lost when the page closes: only after the worker
    /// was warned that this browser cannot keep data.
    #[wasm_bindgen(js_name = openInMemory)]
    pub fn open_in_memory(relay_url: String) -> JsResult<Field> {
        let store = Store::open_in_memory().map_err(|e| thrown(e.into()))?;
        Ok(Field {
            app: Some(opened(store, &relay_url)?),
            pool: None,
        })
    }

    /// Closes the database and lets go of its files, so that another tab
    /// may open it. Every call after this fails; open again to go on.
    pub fn close(&mut self) -> JsResult<()> {
        self.app = None;
        if let Some(pool) = &self.pool {
            pool.pause_vfs()
                .map_err(|e| thrown(FieldError::new("storage", e.to_string())))?;
        }
        Ok(())
    }

    fn app(&mut self) -> JsResult<&mut FieldApp> {
        self.app
            .as_mut()
            .ok_or_else(|| thrown(FieldError::new("closed", "the database is closed")))
    }

    /// The logged-in worker (JSON), or `null`.
    pub fn account(&mut self) -> JsResult<String> {
        self.app()?.account().map_err(thrown)
    }

    /// The body of `POST /v1/auth/login`.
    #[wasm_bindgen(js_name = loginRequest)]
    pub fn login_request(
        &mut self,
        username: String,
        password: String,
        device_name: String,
    ) -> JsResult<String> {
        self.app()?
            .login_request(&username, &password, &device_name)
            .map_err(thrown)
    }

    /// Opens the session of the relay's login answer.
    #[wasm_bindgen(js_name = loginResponse)]
    pub fn login_response(&mut self, answer: String) -> JsResult<String> {
        self.app()?.login_response(&answer).map_err(thrown)
    }

    /// The access token, or `undefined` when it must be refreshed first.
    #[wasm_bindgen(js_name = accessToken)]
    pub fn access_token(&mut self) -> JsResult<Option<String>> {
        self.app()?.access_token().map_err(thrown)
    }

    /// The body of `POST /v1/auth/refresh`.
    #[wasm_bindgen(js_name = refreshRequest)]
    pub fn refresh_request(&mut self) -> JsResult<String> {
        self.app()?.refresh_request().map_err(thrown)
    }

    /// Stores a refresh's tokens; returns the access token.
    #[wasm_bindgen(js_name = refreshResponse)]
    pub fn refresh_response(&mut self, answer: String) -> JsResult<String> {
        self.app()?.refresh_response(&answer).map_err(thrown)
    }

    /// Forgets the tokens; records and unsent edits stay.
    pub fn logout(&mut self) -> JsResult<()> {
        self.app()?.logout().map_err(thrown)
    }

    /// The next sync request's bytes.
    #[wasm_bindgen(js_name = syncRequest)]
    pub fn sync_request(&mut self) -> JsResult<Vec<u8>> {
        self.app()?.sync_request().map_err(thrown)
    }

    /// Applies the relay's answer; returns the round's report (JSON).
    #[wasm_bindgen(js_name = syncResponse)]
    pub fn sync_response(&mut self, answer: Vec<u8>) -> JsResult<String> {
        self.app()?.sync_response(&answer).map_err(thrown)
    }

    /// The records not on the relay yet (JSON `{count, ids}`).
    pub fn unsynced(&mut self) -> JsResult<String> {
        self.app()?.unsynced().map_err(thrown)
    }

    /// The edits the relay refused, with reasons (JSON).
    pub fn refused(&mut self) -> JsResult<String> {
        self.app()?.refused().map_err(thrown)
    }

    /// Sends a refused edit again at the next sync.
    pub fn retry(&mut self, record_id: String) -> JsResult<()> {
        self.app()?.retry(&record_id).map_err(thrown)
    }

    /// Households (JSON page), matching `text` if given.
    pub fn households(
        &mut self,
        text: Option<String>,
        limit: u32,
        offset: u32,
    ) -> JsResult<String> {
        self.app()?.households(text, limit, offset).map_err(thrown)
    }

    /// One household (JSON).
    pub fn household(&mut self, id: String) -> JsResult<String> {
        self.app()?.household(&id).map_err(thrown)
    }

    /// Creates a household; returns its id.
    #[wasm_bindgen(js_name = createHousehold)]
    pub fn create_household(&mut self, form: String) -> JsResult<String> {
        self.app()?.create_household(&form).map_err(thrown)
    }

    /// Changes a household's fields.
    #[wasm_bindgen(js_name = updateHousehold)]
    pub fn update_household(&mut self, id: String, patch: String) -> JsResult<()> {
        self.app()?.update_household(&id, &patch).map_err(thrown)
    }

    /// Records a visit; returns its id.
    #[wasm_bindgen(js_name = recordVisit)]
    pub fn record_visit(&mut self, visit: String) -> JsResult<String> {
        self.app()?.record_visit(&visit).map_err(thrown)
    }

    /// A household's visits (JSON).
    pub fn visits(&mut self, household_id: String) -> JsResult<String> {
        self.app()?.visits(&household_id).map_err(thrown)
    }

    /// The visits since a time (JSON).
    #[wasm_bindgen(js_name = visitsSince)]
    pub fn visits_since(&mut self, since: f64) -> JsResult<String> {
        self.app()?.visits_since(since as i64).map_err(thrown)
    }

    /// Creates a draft card; returns its id.
    #[wasm_bindgen(js_name = createWish)]
    pub fn create_wish(&mut self, wish: String) -> JsResult<String> {
        self.app()?.create_wish(&wish).map_err(thrown)
    }

    /// Edits a card's content.
    #[wasm_bindgen(js_name = updateWish)]
    pub fn update_wish(&mut self, id: String, patch: String) -> JsResult<()> {
        self.app()?.update_wish(&id, &patch).map_err(thrown)
    }

    /// Appends a workflow event; returns the new status.
    #[wasm_bindgen(js_name = appendEvent)]
    pub fn append_event(&mut self, id: String, event: String) -> JsResult<String> {
        self.app()?.append_event(&id, &event).map_err(thrown)
    }

    /// Wish cards (JSON page) by a JSON filter.
    pub fn wishes(&mut self, filter: String) -> JsResult<String> {
        self.app()?.wishes(&filter).map_err(thrown)
    }

    /// Cards whose text contains `text` (JSON rows).
    #[wasm_bindgen(js_name = searchWishes)]
    pub fn search_wishes(&mut self, text: String) -> JsResult<String> {
        self.app()?.search_wishes(&text).map_err(thrown)
    }

    /// One card with its events (JSON).
    pub fn wish(&mut self, id: String) -> JsResult<String> {
        self.app()?.wish(&id).map_err(thrown)
    }

    /// Makes a picture a photo of the card; returns it (JSON).
    #[wasm_bindgen(js_name = addPhoto)]
    pub fn add_photo(&mut self, wish_id: String, picture: Vec<u8>) -> JsResult<String> {
        self.app()?.add_photo(&wish_id, &picture).map_err(thrown)
    }

    /// The photos waiting for upload (JSON hashes).
    #[wasm_bindgen(js_name = photoUploads)]
    pub fn photo_uploads(&mut self) -> JsResult<String> {
        self.app()?.photo_uploads().map_err(thrown)
    }

    /// A kept photo's bytes, or `undefined`.
    #[wasm_bindgen(js_name = photoData)]
    pub fn photo_data(&mut self, sha256: String) -> JsResult<Option<Vec<u8>>> {
        self.app()?.photo_data(&sha256).map_err(thrown)
    }

    /// A kept photo's thumbnail, or `undefined`.
    #[wasm_bindgen(js_name = photoThumbnail)]
    pub fn photo_thumbnail(&mut self, sha256: String) -> JsResult<Option<Vec<u8>>> {
        self.app()?.photo_thumbnail(&sha256).map_err(thrown)
    }

    /// The relay holds the photo.
    #[wasm_bindgen(js_name = photoUploaded)]
    pub fn photo_uploaded(&mut self, sha256: String) -> JsResult<()> {
        self.app()?.photo_uploaded(&sha256).map_err(thrown)
    }

    /// The relay purged the photo.
    #[wasm_bindgen(js_name = forgetPhoto)]
    pub fn forget_photo(&mut self, sha256: String) -> JsResult<()> {
        self.app()?.forget_photo(&sha256).map_err(thrown)
    }

    /// Keeps a thumbnail fetched from the relay.
    #[wasm_bindgen(js_name = keepThumbnail)]
    pub fn keep_thumbnail(&mut self, sha256: String, bytes: Vec<u8>) -> JsResult<()> {
        self.app()?.keep_thumbnail(&sha256, &bytes).map_err(thrown)
    }
}
