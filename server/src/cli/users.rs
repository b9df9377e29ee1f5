//! `doorstep user …`: accounts from the command line.

use std::io::{BufRead, IsTerminal, Write};

use clap::Subcommand;
use sync_core::{Role, ScopePath, UnitId, UserId};

use super::{DbArg, audited, open, people};
use crate::accounts;
use crate::audit::Action;
use crate::error::{AppError, AppResult};
use crate::state::now_ms;

#[derive(Debug, Subcommand)]
pub(crate) enum UserCommand {
    /// Adds a user (the password comes from --password, a prompt at a
    /// terminal, or the first line of stdin).
    Add {
        /// Login name.
        #[arg(long)]
        username: String,
        /// worker, volunteer, supervisor or admin.
        #[arg(long)]
        role: String,
        /// A scope the user works in (repeat for several), e.g. longgang/yuanshan.
        #[arg(long = "scope", required = true)]
        scopes: Vec<String>,
        /// The password (at least 8 characters).
        #[arg(long)]
        password: Option<String>,
        #[command(flatten)]
        profile: people::ProfileArgs,
        #[command(flatten)]
        db: DbArg,
    },
    /// Changes a user's role, scopes, display name, phone or partner unit.
    Set {
        /// Login name.
        username: String,
        /// A new role: worker, volunteer, supervisor or admin.
        #[arg(long)]
        role: Option<String>,
        /// Replaces the user's scopes (repeat for several).
        #[arg(long = "scope")]
        scopes: Vec<String>,
        #[command(flatten)]
        profile: people::ProfileArgs,
        #[command(flatten)]
        db: DbArg,
    },
    /// Lists users.
    List {
        #[command(flatten)]
        db: DbArg,
    },
    /// Disables a user: no more logins, and their phones count as retired
    /// (they may still deliver what they made before).
    Disable {
        /// Login name.
        username: String,
        #[command(flatten)]
        db: DbArg,
    },
    /// Sets a user's password (from --password, a prompt at a terminal, or
    /// the first line of stdin). Their sessions end on every device.
    Passwd {
        /// Login name.
        username: String,
        /// The new password (at least 8 characters).
        #[arg(long)]
        password: Option<String>,
        #[command(flatten)]
        db: DbArg,
    },
    /// Undoes `user disable`.
    Enable {
        /// Login name.
        username: String,
        #[command(flatten)]
        db: DbArg,
    },
}

pub(crate) fn user(command: UserCommand) -> AppResult<()> {
    match command {
        UserCommand::Add {
            username,
            role,
            scopes,
            password,
            profile,
            db,
        } => {
            let username =
                UserId::new(username).map_err(|e| AppError::BadRequest(e.to_string()))?;
            let role = parse_role(&role)?;
            let scopes = parse_scopes(scopes)?;
            let mut store = open(&db)?;
            let store = store.as_mut();
            let password = read_password(password, &username)?;
            accounts::add_user(store, &username, role, &scopes, &password, now_ms())?;
            profile.apply(store, &username)?;
            let names: Vec<&str> = scopes.iter().map(ScopePath::as_str).collect();
            let detail = format!("{role} in {}", names.join(", "));
            audited(store, Action::UserAdded, username.as_str(), detail)?;
            println!("added {role} {username}");
            Ok(())
        }
        UserCommand::Set {
            username,
            role,
            scopes,
            profile,
            db,
        } => {
            let username =
                UserId::new(username).map_err(|e| AppError::BadRequest(e.to_string()))?;
            let role = role.as_deref().map(parse_role).transpose()?;
            let scopes = parse_scopes(scopes)?;
            let mut store = open(&db)?;
            let store = store.as_mut();
            if role.is_some() || !scopes.is_empty() {
                store.set_role(&username, role, &scopes)?;
            }
            profile.apply(store, &username)?;
            let mut what = Vec::new();
            if let Some(role) = role {
                what.push(format!("role {role}"));
            }
            if !scopes.is_empty() {
                let names: Vec<&str> = scopes.iter().map(ScopePath::as_str).collect();
                what.push(format!("scopes {}", names.join(", ")));
            }
            audited(
                store,
                Action::UserChanged,
                username.as_str(),
                what.join("; "),
            )?;
            println!("updated {username}");
            Ok(())
        }
        UserCommand::Passwd {
            username,
            password,
            db,
        } => {
            let username =
                UserId::new(username).map_err(|e| AppError::BadRequest(e.to_string()))?;
            let mut store = open(&db)?;
            let store = store.as_mut();
            if store.user(username.as_str())?.is_none() {
                return Err(AppError::NotFound(format!("no user {username}")));
            }
            let password = read_password(password, &username)?;
            accounts::set_password(store, &username, &password, now_ms())?;
            audited(store, Action::PasswordReset, username.as_str(), "")?;
            println!(
                "changed the password of {username}; their sessions have ended on every device"
            );
            Ok(())
        }
        UserCommand::List { db } => {
            let users = open(&db)?.list_users()?;
            out!(
                "{:<20} {:<11} {:<9} {:<12} {:<10} scopes",
                "user",
                "role",
                "status",
                "name",
                "unit"
            );
            for u in users {
                let scopes: Vec<&str> = u.scopes.iter().map(ScopePath::as_str).collect();
                let status = if u.disabled { "disabled" } else { "active" };
                out!(
                    "{:<20} {:<11} {:<9} {:<12} {:<10} {}",
                    u.username,
                    u.role,
                    status,
                    u.display_name.as_deref().unwrap_or("-"),
                    u.unit.as_ref().map_or("-", UnitId::as_str),
                    scopes.join(",")
                );
            }
            Ok(())
        }
        UserCommand::Disable { username, db } => {
            let mut store = open(&db)?;
            let store = store.as_mut();
            store.disable_user(&username, now_ms())?;
            audited(store, Action::UserDisabled, &username, "")?;
            println!(
                "disabled {username}: no more logins; their phones may still deliver what they made before"
            );
            Ok(())
        }
        UserCommand::Enable { username, db } => {
            let mut store = open(&db)?;
            let store = store.as_mut();
            store.enable_user(&username)?;
            audited(store, Action::UserEnabled, &username, "")?;
            println!("enabled {username}");
            Ok(())
        }
    }
}

fn parse_role(role: &str) -> AppResult<Role> {
    role.parse()
        .map_err(|e: sync_core::InvalidInput| AppError::BadRequest(e.to_string()))
}

fn parse_scopes(scopes: Vec<String>) -> AppResult<Vec<ScopePath>> {
    scopes
        .into_iter()
        .map(|s| ScopePath::new(s).map_err(|e| AppError::BadRequest(e.to_string())))
        .collect()
}

/// The password from the flag, else typed at a terminal (twice, not shown),
/// else the first line of stdin (a script's pipe).
fn read_password(given: Option<String>, user: &UserId) -> AppResult<String> {
    if let Some(password) = given {
        return Ok(password);
    }
    let unreadable =
        |e: std::io::Error| AppError::BadRequest(format!("cannot read the password: {e}"));
    if std::io::stdin().is_terminal() {
        let first =
            rpassword::prompt_password(format!("password for {user}: ")).map_err(unreadable)?;
        let again = rpassword::prompt_password("the same again: ").map_err(unreadable)?;
        if first != again {
            return Err(AppError::BadRequest(
                "the two passwords differ; nothing was changed".into(),
            ));
        }
        return Ok(first);
    }
    let mut line = String::new();
    let read = std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(unreadable)?;
    if read == 0 {
        return Err(AppError::BadRequest(
            "no password given: use --password, type it at the prompt (run the command at a terminal), or pipe it on stdin".into(),
        ));
    }
    Ok(line.trim_end_matches(['\r', '\n']).to_owned())
}
