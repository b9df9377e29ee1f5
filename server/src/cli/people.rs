//! `doorstep place`, `doorstep unit` and `doorstep user set`: display names
//! of places and people, and partner units.

use std::io::Write;

use clap::Subcommand;
use sync_core::{ScopePath, UnitId, UserId};

use super::{DbArg, open};
use crate::error::{AppError, AppResult};
use crate::state::now_ms;
use crate::store::People;

/// `doorstep place …`
#[derive(Debug, Subcommand)]
pub(super) enum PlaceCommand {
    /// Gives a district, street or community its display name, shown
    /// everywhere instead of its path (e.g. `longgang/yuanshan/xikeng 西坑社区`).
    Name {
        /// The place's path.
        path: String,
        /// Its name; leave it out with --clear to forget the name.
        name: Option<String>,
        /// Forget the place's name.
        #[arg(long, conflicts_with = "name")]
        clear: bool,
        #[command(flatten)]
        db: DbArg,
    },
    /// Lists the named places.
    List {
        #[command(flatten)]
        db: DbArg,
    },
}

/// `doorstep unit …`
#[derive(Debug, Subcommand)]
pub(super) enum UnitCommand {
    /// Adds a partner unit (结对单位), or renames one. Its members are users
    /// added with `--unit`.
    Add {
        /// A short id, e.g. `shuiwu`.
        id: String,
        /// Its display name, e.g. 县水务局.
        #[arg(long)]
        name: String,
        #[command(flatten)]
        db: DbArg,
    },
    /// Lists partner units and their members.
    List {
        #[command(flatten)]
        db: DbArg,
    },
}

/// A user's profile fields, as `user add` and `user set` take them.
#[derive(Debug, clap::Args)]
pub(super) struct ProfileArgs {
    /// Display name, e.g. 胡志强 (an empty one clears it).
    #[arg(long = "name")]
    pub(super) display_name: Option<String>,
    /// Phone number.
    #[arg(long)]
    pub(super) phone: Option<String>,
    /// The partner unit they are a member of (an empty one: none).
    #[arg(long)]
    pub(super) unit: Option<String>,
}

fn bad(e: impl std::fmt::Display) -> AppError {
    AppError::BadRequest(e.to_string())
}

impl ProfileArgs {
    fn is_empty(&self) -> bool {
        self.display_name.is_none() && self.phone.is_none() && self.unit.is_none()
    }

    /// Writes the given fields to `username`'s profile.
    pub(super) fn apply(&self, store: &mut dyn People, username: &UserId) -> AppResult<()> {
        if self.is_empty() {
            return Ok(());
        }
        let unit = match self.unit.as_deref().map(str::trim) {
            None => None,
            Some("") => Some(None),
            Some(id) => Some(Some(UnitId::new(id).map_err(bad)?)),
        };
        store.set_profile(
            username,
            self.display_name.as_deref(),
            self.phone.as_deref(),
            unit.as_ref().map(Option::as_ref),
        )
    }
}

/// Runs `doorstep place …`.
pub(super) fn place(command: PlaceCommand) -> AppResult<()> {
    match command {
        PlaceCommand::Name {
            path,
            name,
            clear,
            db,
        } => {
            let place = ScopePath::new(path).map_err(bad)?;
            if name.is_none() && !clear {
                return Err(bad("give the place's name, or --clear to forget it"));
            }
            open(&db)?.set_place_name(&place, name.as_deref())?;
            match name {
                Some(name) => println!("{place} is shown as {name}"),
                None => println!("{place} is shown by its path"),
            }
            Ok(())
        }
        PlaceCommand::List { db } => {
            for (path, name) in open(&db)?.place_names()? {
                out!("{path:<32} {name}");
            }
            Ok(())
        }
    }
}

/// Runs `doorstep unit …`.
pub(super) fn unit(command: UnitCommand) -> AppResult<()> {
    match command {
        UnitCommand::Add { id, name, db } => {
            let id = UnitId::new(id).map_err(bad)?;
            open(&db)?.put_unit(&id, &name, now_ms())?;
            println!(
                "partner unit {id} is {name}; add members with `doorstep user add … --role volunteer --unit {id}`"
            );
            Ok(())
        }
        UnitCommand::List { db } => {
            out!("{:<16} {:<24} members", "unit", "name");
            for unit in open(&db)?.units()? {
                let members: Vec<&str> = unit.members.iter().map(UserId::as_str).collect();
                out!("{:<16} {:<24} {}", unit.id, unit.name, members.join(","));
            }
            Ok(())
        }
    }
}
