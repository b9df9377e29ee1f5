//! A simulated field worker's phone that syncs with a real relay over HTTP,
//! for the dashboard's browser test (and for trying the dashboard by hand).
//!
//! The phone keeps its store in a SQLite file, so a later run is the same
//! phone (same device, same cursor) syncing again:
//!
//! ```text
//! cargo run -p server --example phone -- --relay http://127.0.0.1:8080 \
//!     --user wang --password '…' --db phone.sqlite submit --text 给李大爷一台轮椅
//! cargo run -p server --example phone -- --relay http://127.0.0.1:8080 \
//!     --user wang --password '…' --db phone.sqlite sync --wish <id>
//! ```
//!
//! Each run prints one line of JSON.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use doorstep_tests::http::HttpPhone;
use serde_json::json;
use sync_core::doc::EventInput;
use sync_core::model::{Category, Urgency};
use sync_core::{EventKind, NewHousehold, NewWish, Record, Store, WishId};

/// A phone that logs in to a relay and syncs through `POST /v1/sync`.
#[derive(Debug, Parser)]
struct Args {
    /// The relay's base URL.
    #[arg(long)]
    relay: String,
    /// The worker's user name.
    #[arg(long)]
    user: String,
    /// The worker's password.
    #[arg(long, env = "PHONE_PASSWORD")]
    password: String,
    /// The phone's database file (created on first use).
    #[arg(long)]
    db: PathBuf,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Records a household and a wish card, submits the card and syncs.
    Submit {
        /// The wish.
        #[arg(long)]
        text: String,
        /// The household's address.
        #[arg(long, default_value = "西坑村三巷5号")]
        address: String,
        /// The household's contact.
        #[arg(long, default_value = "李建国")]
        contact: String,
        /// The contact's phone.
        #[arg(long, default_value = "")]
        contact_phone: String,
        /// A picture (JPEG or PNG) to take as the card's photo; its bytes
        /// wait on the phone until `photos`.
        #[arg(long)]
        photo: Option<PathBuf>,
    },
    /// Uploads the photos taken on this phone.
    Photos,
    /// Syncs, records the resident's confirmation of a lit-up card with a
    /// rating, and syncs again.
    Confirm {
        /// The card.
        #[arg(long)]
        wish: String,
        /// The resident's rating, 1 to 5.
        #[arg(long, default_value_t = 5)]
        rating: u8,
    },
    /// Syncs, and tells the status of a card on the phone afterwards.
    Sync {
        /// The card to report on.
        #[arg(long)]
        wish: Option<String>,
    },
}

fn run(args: Args) -> Result<serde_json::Value, String> {
    let store = Store::open(&args.db).map_err(|e| format!("{}: {e}", args.db.display()))?;
    let mut phone = HttpPhone::login_with(&args.relay, &args.user, &args.password, store)
        .map_err(|e| format!("login: {e}"))?;
    match args.command {
        Command::Submit {
            text,
            address,
            contact,
            contact_phone,
            photo,
        } => {
            let p = &mut phone.phone;
            let community = p.community();
            let household = p
                .store
                .create_household(
                    &p.author,
                    &community,
                    &NewHousehold {
                        address,
                        head_name: contact,
                        phone: contact_phone,
                        members: 1,
                        ..Default::default()
                    },
                )
                .map_err(|e| e.to_string())?;
            let wish = p
                .store
                .create_wish(
                    &p.author,
                    &NewWish {
                        household,
                        text,
                        category: Category::MobilityAid,
                        urgency: Urgency::High,
                        photos: vec![],
                    },
                )
                .map_err(|e| e.to_string())?;
            p.store
                .append_event(&p.author, wish, &EventInput::new(EventKind::Submit))
                .map_err(|e| e.to_string())?;
            let photo = match photo {
                Some(path) => {
                    let picture =
                        std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
                    let photo = p
                        .store
                        .add_photo(&p.author, wish, &picture)
                        .map_err(|e| e.to_string())?;
                    Some(photo.sha256.to_string())
                }
                None => None,
            };
            let report = phone.sync().map_err(|e| format!("sync: {e}"))?;
            Ok(json!({
                "wish": wish.to_string(),
                "household": household.to_string(),
                "photo": photo,
                "device": phone.phone.author.device.to_string(),
                "sent": report.sent,
                "accepted": report.accepted,
                "rejected": report.rejected.len(),
            }))
        }
        Command::Photos => {
            let queued = phone
                .phone
                .store
                .photos_to_upload()
                .map_err(|e| e.to_string())?
                .len();
            let sent = phone.upload_photos().map_err(|e| format!("photos: {e}"))?;
            Ok(json!({ "uploaded": queued, "bytes": sent }))
        }
        Command::Confirm { wish, rating } => {
            let id: WishId = wish.parse().map_err(|e| format!("--wish: {e}"))?;
            phone.sync().map_err(|e| format!("sync: {e}"))?;
            let p = &mut phone.phone;
            let input = EventInput {
                rating: Some(rating),
                ..EventInput::new(EventKind::Confirm).with_note("居民确认，很满意")
            };
            p.store
                .append_event(&p.author, id, &input)
                .map_err(|e| e.to_string())?;
            let report = phone.sync().map_err(|e| format!("sync: {e}"))?;
            Ok(json!({ "accepted": report.accepted, "rejected": report.rejected.len() }))
        }
        Command::Sync { wish } => {
            let report = phone.sync().map_err(|e| format!("sync: {e}"))?;
            let status = match wish {
                Some(id) => {
                    let id: WishId = id.parse().map_err(|e| format!("--wish: {e}"))?;
                    match phone.phone.store.record(id.record()) {
                        Ok(Record::Wish(card)) => Some(card.state.status.as_str().to_owned()),
                        _ => None,
                    }
                }
                None => None,
            };
            Ok(json!({
                "sent": report.sent,
                "received": report.received,
                "rejected": report.rejected.len(),
                "status": status,
            }))
        }
    }
}

fn main() -> ExitCode {
    match run(Args::parse()) {
        Ok(answer) => {
            println!("{answer}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("phone: {e}");
            ExitCode::FAILURE
        }
    }
}
