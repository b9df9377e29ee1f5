//! Identifiers: one small newtype per concept, so that a visit id can never be
//! passed where a wish id is expected.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::InvalidInput;

macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
        #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
        #[serde(transparent)]
        pub struct $name(Uuid);

        impl $name {
            /// A new random identifier.
            pub fn random() -> Self {
                Self(Uuid::new_v4())
            }

            /// The identifier's 16 bytes.
            pub fn as_bytes(&self) -> &[u8; 16] {
                self.0.as_bytes()
            }

            /// Builds an identifier from 16 bytes.
            pub fn from_bytes(bytes: [u8; 16]) -> Self {
                Self(Uuid::from_bytes(bytes))
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.as_hyphenated().fmt(f)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self.0.as_hyphenated())
            }
        }

        impl FromStr for $name {
            type Err = InvalidInput;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self).map_err(|_| {
                    InvalidInput::new(concat!("not a valid ", stringify!($name)), s)
                })
            }
        }
    };
}

uuid_id!(
    /// Any record: a household, a visit or a wish card. The sync engine and the
    /// store deal in `RecordId`s; the domain API uses the typed ids below.
    RecordId
);
uuid_id!(
    /// A registered device (a phone, or the relay acting for a web user). The
    /// device's Automerge actor id is its 16 bytes, which binds every change to it.
    DeviceId
);
uuid_id!(
    /// One workflow event of a wish card.
    EventId
);

macro_rules! record_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Serialize, Deserialize)]
        #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
        #[serde(transparent)]
        pub struct $name(RecordId);

        impl $name {
            /// A new random identifier.
            pub fn random() -> Self {
                Self(RecordId::random())
            }

            /// The record id behind this typed id.
            pub fn record(&self) -> RecordId {
                self.0
            }

            /// Wraps a record id; the caller asserts the record is of this kind.
            pub fn from_record(id: RecordId) -> Self {
                Self(id)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = InvalidInput;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                RecordId::from_str(s).map(Self)
            }
        }

        impl From<$name> for RecordId {
            fn from(id: $name) -> RecordId {
                id.0
            }
        }
    };
}

record_id!(
    /// A household record.
    HouseholdId
);
record_id!(
    /// A visit record.
    VisitId
);
record_id!(
    /// A wish card record.
    WishId
);

macro_rules! name_id {
    ($(#[$doc:meta])* $name:ident, $what:literal) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Serialize, Deserialize)]
        #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            #[doc = concat!("Validates ", $what, ": 1–64 characters of letters, digits, `_ . - @`.")]
            pub fn new(name: impl Into<String>) -> Result<Self, InvalidInput> {
                let name = name.into();
                let ok = !name.is_empty()
                    && name.len() <= 64
                    && name
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-' | '@'));
                if ok {
                    Ok(Self(name))
                } else {
                    Err(InvalidInput::new(
                        concat!($what, " is 1-64 letters, digits or _ . - @"),
                        &name,
                    ))
                }
            }

            /// The name as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.pad(&self.0)
            }
        }

        impl FromStr for $name {
            type Err = InvalidInput;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::new(s)
            }
        }

        impl TryFrom<String> for $name {
            type Error = InvalidInput;

            fn try_from(s: String) -> Result<Self, Self::Error> {
                Self::new(s)
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }
    };
}

name_id!(
    /// A user's login name, which is also how history names who changed what.
    UserId,
    "a user name"
);

name_id!(
    /// A partner unit's short id (结对单位, e.g. `shuiwu` for a county water
    /// bureau); its display name is kept beside it.
    UnitId,
    "a unit id"
);

/// A place in the org hierarchy: `district`, `district/street` or
/// `district/street/community`. Users are given scopes; every record belongs to
/// exactly one community (a path of three segments).
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(try_from = "String", into = "String")]
pub struct ScopePath(String);

/// The largest number of segments a path has (district/street/community).
const MAX_DEPTH: usize = 3;

impl ScopePath {
    /// Parses a path of 1–3 segments of lowercase ASCII letters, digits, `_` or `-`.
    pub fn new(path: impl Into<String>) -> Result<Self, InvalidInput> {
        let path = path.into();
        let segments: Vec<&str> = path.split('/').collect();
        let ok = segments.len() <= MAX_DEPTH
            && path.len() <= 200
            && segments.iter().all(|s| {
                !s.is_empty()
                    && s.chars().all(|c| {
                        c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-'
                    })
            });
        if ok {
            Ok(Self(path))
        } else {
            Err(InvalidInput::new(
                "a scope is district[/street[/community]] in lowercase letters, digits, _ or -",
                &path,
            ))
        }
    }

    /// The path as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// How many segments the path has: 1 for a district, 3 for a community.
    pub fn depth(&self) -> usize {
        self.0.split('/').count()
    }

    /// True when `other` is this scope or lies beneath it.
    pub fn contains(&self, other: &ScopePath) -> bool {
        other.0 == self.0
            || (other.0.len() > self.0.len()
                && other.0.starts_with(&self.0)
                && other.0.as_bytes()[self.0.len()] == b'/')
    }

    /// The scope one level up (a community's street), if any.
    pub fn parent(&self) -> Option<ScopePath> {
        self.0.rfind('/').map(|i| ScopePath(self.0[..i].to_owned()))
    }
}

impl fmt::Display for ScopePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(&self.0)
    }
}

impl FromStr for ScopePath {
    type Err = InvalidInput;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::new(s)
    }
}

impl TryFrom<String> for ScopePath {
    type Error = InvalidInput;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::new(s)
    }
}

impl From<ScopePath> for String {
    fn from(p: ScopePath) -> String {
        p.0
    }
}

/// The community a record belongs to: a [`ScopePath`] with exactly three segments.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(try_from = "String", into = "String")]
pub struct CommunityPath(ScopePath);

impl CommunityPath {
    /// Parses `district/street/community`.
    pub fn new(path: impl Into<String>) -> Result<Self, InvalidInput> {
        let scope = ScopePath::new(path)?;
        if scope.depth() == MAX_DEPTH {
            Ok(Self(scope))
        } else {
            Err(InvalidInput::new(
                "a community is district/street/community",
                scope.as_str(),
            ))
        }
    }

    /// The path as text.
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    /// The community as a scope.
    pub fn as_scope(&self) -> &ScopePath {
        &self.0
    }

    /// The street the community belongs to.
    pub fn street(&self) -> ScopePath {
        self.0.parent().unwrap_or_else(|| self.0.clone())
    }
}

impl fmt::Display for CommunityPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl FromStr for CommunityPath {
    type Err = InvalidInput;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::new(s)
    }
}

impl TryFrom<String> for CommunityPath {
    type Error = InvalidInput;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::new(s)
    }
}

impl From<CommunityPath> for String {
    fn from(p: CommunityPath) -> String {
        p.0.0
    }
}

/// A photo, referred to by the SHA-256 of its bytes (64 lowercase hex digits);
/// the bytes travel separately from the record.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(try_from = "String", into = "String")]
pub struct PhotoRef(String);

impl PhotoRef {
    /// Validates a content hash.
    pub fn new(hash: impl Into<String>) -> Result<Self, InvalidInput> {
        let hash = hash.into();
        if hash.len() == 64 && hash.chars().all(|c| matches!(c, '0'..='9' | 'a'..='f')) {
            Ok(Self(hash))
        } else {
            Err(InvalidInput::new(
                "a photo reference is a SHA-256 in lowercase hex",
                &hash,
            ))
        }
    }

    /// The reference of the bytes whose SHA-256 is `digest`.
    pub fn from_digest(digest: [u8; 32]) -> Self {
        use std::fmt::Write;
        let mut hex = String::with_capacity(64);
        for byte in digest {
            let _ = write!(hex, "{byte:02x}");
        }
        Self(hex)
    }

    /// The hash as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for PhotoRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(&self.0)
    }
}

impl FromStr for PhotoRef {
    type Err = InvalidInput;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::new(s)
    }
}

impl TryFrom<String> for PhotoRef {
    type Error = InvalidInput;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::new(s)
    }
}

impl From<PhotoRef> for String {
    fn from(p: PhotoRef) -> String {
        p.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scope_containment_respects_segment_boundaries() {
        let street = ScopePath::new("longgang/yuanshan").unwrap();
        let inside = ScopePath::new("longgang/yuanshan/xikeng").unwrap();
        let lookalike = ScopePath::new("longgang/yuanshan2/xikeng").unwrap();
        assert!(street.contains(&inside));
        assert!(street.contains(&street));
        assert!(!street.contains(&lookalike));
        assert!(!inside.contains(&street));
    }

    #[test]
    fn community_needs_three_segments() {
        assert!(CommunityPath::new("longgang/yuanshan/xikeng").is_ok());
        assert!(CommunityPath::new("longgang/yuanshan").is_err());
        assert!(CommunityPath::new("Longgang/a/b").is_err());
        assert!(CommunityPath::new("a//b").is_err());
    }

    #[test]
    fn ids_round_trip_through_text() {
        let id = WishId::random();
        assert_eq!(id.to_string().parse::<WishId>().unwrap(), id);
        assert!("not-a-uuid".parse::<WishId>().is_err());
        assert!(UserId::new("wang.li").is_ok());
        assert!(UserId::new("王").is_err());
    }
}
