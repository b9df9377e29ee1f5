//! Display names for the pages: places, people and partner units; and the
//! claimants a supervisor may dispatch a wish to.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{Query, State};
use serde::{Deserialize, Serialize};
use sync_core::{CommunityPath, Role};

use super::openapi::{Authed, BadQuery};
use crate::auth::AuthUser;
use crate::error::{AppError, AppResult};
use crate::state::AppState;
use crate::store::RelayStore;

/// How places, people and units are shown: by path, login and id.
#[derive(Debug, Default, Serialize, utoipa::ToSchema)]
pub(crate) struct Names {
    /// District, street and community names.
    pub(crate) places: BTreeMap<String, String>,
    /// Users' display names (never their phones).
    pub(crate) people: BTreeMap<String, String>,
    /// Partner units' names.
    pub(crate) units: BTreeMap<String, String>,
}

impl Names {
    /// A place's name, or its path.
    pub(crate) fn place<'a>(&'a self, path: &'a str) -> &'a str {
        self.places.get(path).map_or(path, String::as_str)
    }

    /// A user's display name, or their login.
    pub(crate) fn person<'a>(&'a self, login: &'a str) -> &'a str {
        self.people.get(login).map_or(login, String::as_str)
    }

    /// A unit's name, or its id.
    pub(crate) fn unit<'a>(&'a self, id: &'a str) -> &'a str {
        self.units.get(id).map_or(id, String::as_str)
    }
}

/// Reads the names. `people` false leaves people out.
pub(crate) fn names_in(store: &dyn RelayStore, people: bool) -> AppResult<Names> {
    let mut names = Names {
        places: store.place_names()?,
        units: store
            .units()?
            .into_iter()
            .map(|u| (u.id.to_string(), u.name))
            .collect(),
        ..Names::default()
    };
    if people {
        names.people = store
            .profiles()?
            .into_iter()
            .filter_map(|(user, p)| p.display_name.map(|n| (user.to_string(), n)))
            .collect();
    }
    Ok(names)
}

/// `GET /v1/names`
#[utoipa::path(
    get,
    path = "/v1/names",
    operation_id = "names",
    tag = "names",
    responses(
        (status = 200, description = "Names of places, people and partner units", body = Names),
        Authed,
    ),
    security(("bearer" = [])),
)]
pub(super) async fn names(
    State(state): State<AppState>,
    _auth: AuthUser,
) -> AppResult<Json<Names>> {
    Ok(Json(state.db.run(|store| names_in(store, true)).await?))
}

/// Where a wish is to go.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct ClaimantParams {
    /// The wish's community (`district/street/community`).
    community: String,
}

/// A volunteer (or worker) a supervisor may dispatch to.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(super) struct Candidate {
    user: String,
    name: Option<String>,
    role: Role,
    unit: Option<String>,
}

/// A partner unit a supervisor may dispatch to.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(super) struct UnitCandidate {
    id: String,
    name: String,
    members: usize,
}

/// Whom a wish of one community can go to.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(super) struct Claimants {
    volunteers: Vec<Candidate>,
    units: Vec<UnitCandidate>,
}

/// `GET /v1/claimants?community=`: the active volunteers who serve the
/// community, and the partner units.
#[utoipa::path(
    get,
    path = "/v1/claimants",
    operation_id = "names_claimants",
    tag = "names",
    params(
        ClaimantParams,
    ),
    responses(
        (status = 200, description = "Active volunteers who serve the community, and the partner units; supervisors and admins", body = Claimants),
        BadQuery,
        Authed,
    ),
    security(("bearer" = [])),
)]
pub(super) async fn claimants(
    State(state): State<AppState>,
    auth: AuthUser,
    Query(params): Query<ClaimantParams>,
) -> AppResult<Json<Claimants>> {
    auth.require_supervisor()?;
    let community =
        CommunityPath::new(params.community).map_err(|e| AppError::BadRequest(e.to_string()))?;
    if !auth.may_see(community.as_scope()) {
        return Err(AppError::refused(
            crate::error::Reason::OutOfScope,
            format!("{community} is outside your scopes"),
        ));
    }
    let found = state
        .db
        .run(move |store| {
            let place = community.as_scope();
            let volunteers = store
                .list_users()?
                .into_iter()
                .filter(|u| !u.disabled && u.role == Role::Volunteer)
                .filter(|u| u.scopes.iter().any(|s| s.contains(place)))
                .map(|u| Candidate {
                    user: u.username.to_string(),
                    name: u.display_name,
                    role: u.role,
                    unit: u.unit.map(|x| x.to_string()),
                })
                .collect();
            let units = store
                .units()?
                .into_iter()
                .map(|u| UnitCandidate {
                    id: u.id.to_string(),
                    name: u.name,
                    members: u.members.len(),
                })
                .collect();
            Ok(Claimants { volunteers, units })
        })
        .await?;
    Ok(Json(found))
}
