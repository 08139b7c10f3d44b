//! Who may do what: accounts, roles and their permissions, service keys and
//! webhook keys (Shipyard, SPEC.md section 001).
//!
//! Secrets are never stored in the clear: `Account::password` and
//! `ServiceKey::key` hold hashes once stored; the plain key is shown once, at
//! creation, by the service that makes it.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// A role as an account refers to it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RoleRef {
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub id: String,
}

/// Whether a username may hold `c`: the same set as the API document's
/// pattern `^[^\s:\u0000-\u001f\u007f-\u009f\ufeff]+$` (JSON Schema's
/// `\s` is ECMAScript's, which leaves out U+0085 and takes in U+FEFF;
/// with the control characters and U+FEFF left out on both sides, the two
/// sets are one).
pub fn username_char(c: char) -> bool {
    !(c.is_whitespace() || c.is_control() || c == ':' || c == '\u{feff}')
}

/// An account of a human user.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Account {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub id: String,
    pub username: String,
    /// The password hash once stored; the plain password only in a create request.
    #[serde(default)]
    pub password: String,
    pub role: RoleRef,
}

impl Account {
    pub fn validate(&self) -> Result<()> {
        if self.username.trim().is_empty() || self.username.chars().count() > 128 {
            return Err(Error::invalid("username", "must be 1 to 128 characters"));
        }
        if self.username.chars().any(|c| !username_char(c)) {
            return Err(Error::invalid(
                "username",
                "may not hold whitespace, control characters or ':'",
            ));
        }
        if self.username == ENGINE_USER || self.username == BUILDER_USER {
            return Err(Error::invalid(
                "username",
                format!(
                    "{} is reserved: the cluster's engines use it with shipd's registry",
                    self.username
                ),
            ));
        }
        if self.role.name.trim().is_empty() {
            return Err(Error::invalid("role.name", "a role is required"));
        }
        Ok(())
    }
}

/// The name the cluster's engines give shipd's registry when they pull
/// from it (with a password the store keeps; see `Access::engine_pull_secret`).
pub const ENGINE_USER: &str = "shipcore-engine";

/// The name engines give shipd's registry when they push what a build
/// project built (with a password of its own; see
/// `Access::builder_push_secret`).
pub const BUILDER_USER: &str = "shipcore-builder";

/// A permission: an area and an access level, written `area:ro` or `area:rw`,
/// or `*` for everything (later Shipyard versions' scheme).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Permission {
    /// `containers`, `engines`, `accounts`, ... or `*`.
    pub area: String,
    pub write: bool,
}

impl Permission {
    /// Whether holding `self` allows an action on `area` (writing if `write`).
    pub fn allows(&self, area: &str, write: bool) -> bool {
        (self.area == "*" || self.area == area) && (self.write || !write)
    }
}

impl TryFrom<String> for Permission {
    type Error = Error;
    fn try_from(s: String) -> Result<Self> {
        if s == "*" {
            return Ok(Permission {
                area: "*".into(),
                write: true,
            });
        }
        let (area, level) = s.split_once(':').ok_or_else(|| {
            Error::invalid(
                "permissions",
                format!("{s:?} is not of the form area:ro or area:rw"),
            )
        })?;
        let write = match level {
            "ro" => false,
            "rw" => true,
            _ => {
                return Err(Error::invalid(
                    "permissions",
                    format!("{s:?}: the level is ro or rw"),
                ))
            }
        };
        if area.is_empty()
            || !area
                .chars()
                .all(|c| c.is_ascii_lowercase() || c == '-' || c == '*')
        {
            return Err(Error::invalid("permissions", format!("{s:?}: bad area")));
        }
        Ok(Permission {
            area: area.into(),
            write,
        })
    }
}

impl From<Permission> for String {
    fn from(p: Permission) -> String {
        if p.area == "*" {
            return "*".into();
        }
        format!("{}:{}", p.area, if p.write { "rw" } else { "ro" })
    }
}

/// A named set of permissions. `admin` and `user` are built in.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Role {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub id: String,
    #[cfg_attr(
        feature = "openapi",
        schema(pattern = "^[A-Za-z0-9][A-Za-z0-9-]{0,63}$")
    )]
    pub name: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<String>, example = json!(["containers:ro", "engines:rw"]), pattern = "^([a-z*-]+:(ro|rw)|\\*)$"))]
    pub permissions: Vec<Permission>,
}

impl Role {
    /// A role named `name` with `permissions` (`area:ro`, `area:rw`, `*`);
    /// the error names a permission that does not parse.
    pub fn new(name: &str, permissions: &[&str]) -> Result<Self> {
        Ok(Role {
            name: name.into(),
            permissions: permissions
                .iter()
                .map(|p| Permission::try_from(p.to_string()))
                .collect::<Result<_>>()?,
            ..Role::default()
        })
    }

    /// The areas only `admin` (or a role granting them) may touch.
    /// (`notifications`: where the registry's events of every repository
    /// go, and the secrets they are signed with.)
    pub const ADMIN_AREAS: [&'static str; 4] =
        ["accounts", "roles", "servicekeys", "notifications"];

    /// The permission areas of the API families, the capabilities of the
    /// admission policy (`super::admission::Capability`) and the areas that
    /// reach every account's objects (`all-projects`, ...).
    pub const AREAS: [&'static str; 25] = [
        "accounts",
        "roles",
        "servicekeys",
        "notifications",
        "containers",
        "engines",
        "webhookkeys",
        "events",
        "cluster",
        "projects",
        "registry",
        "builds",
        "host-binds",
        "privileged",
        "cap-add",
        "devices",
        "host-namespaces",
        "volume-options",
        "network-drivers",
        "security-options",
        "log-drivers",
        "all-projects",
        "all-builds",
        "all-volumes",
        "all-clusters",
    ];

    /// The areas whose objects have owners: an account sees and changes
    /// its own; `all-{area}` (or `admin`) reaches everyone's.
    pub const OWNED_AREAS: [&'static str; 4] = ["projects", "builds", "volumes", "clusters"];

    /// Whether this role allows an action on `area`. `admin` may do anything;
    /// `user` anything but manage accounts, roles and service keys (Shipyard's
    /// own rule), and push to or delete from the image registry (it pulls);
    /// other roles what their permissions say.
    ///
    /// The capabilities of the admission policy (host binds, privileged,
    /// ...) and the `all-*` areas are `admin`'s, never `user`'s.
    pub fn allows(&self, area: &str, write: bool) -> bool {
        match self.name.as_str() {
            "admin" => true,
            "user" if area == "registry" => !write,
            "user" => {
                !Self::ADMIN_AREAS.contains(&area)
                    && !super::admission::Capability::is_area(area)
                    && !area.starts_with("all-")
            }
            _ => self.permissions.iter().any(|p| p.allows(area, write)),
        }
    }

    /// Whether this role reaches every account's objects of an owned
    /// `area` (`projects`, `builds`, `volumes`, `clusters`), not only the
    /// account's own: `admin`, `*`, or `all-{area}` at the level asked.
    pub fn reaches_all(&self, area: &str, write: bool) -> bool {
        self.allows(&format!("all-{area}"), write)
    }

    /// Whether everything this role allows, `other` allows too: a caller
    /// may grant (to a key or an account) only a role within its own.
    pub fn within(&self, other: &Role) -> bool {
        if other.name == "admin" {
            return true;
        }
        // `*` and the built-in roles reach areas that do not exist yet.
        if self.name == "admin" || self.permissions.iter().any(|p| p.area == "*") {
            return false;
        }
        if self.name == "user" && other.name != "user" {
            return false;
        }
        let areas = Self::AREAS
            .iter()
            .copied()
            .chain(self.permissions.iter().map(|p| p.area.as_str()));
        areas.into_iter().all(|area| {
            [false, true]
                .into_iter()
                .all(|write| !self.allows(area, write) || other.allows(area, write))
        })
    }
}

/// A key for API clients (`X-Service-Key`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ServiceKey {
    /// The key's hash once stored; the plain key only in the creation answer.
    #[serde(default)]
    pub key: String,
    #[serde(default)]
    pub description: String,
}

/// A key that lets Docker Hub's webhook redeploy the containers of one image.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WebhookKey {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub id: String,
    pub image: String,
    #[serde(default)]
    pub key: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_username_refuses_what_the_document_pattern_refuses() {
        let ok = |u: &str| {
            Account {
                username: u.into(),
                password: "pw".into(),
                role: RoleRef {
                    name: "user".into(),
                    ..RoleRef::default()
                },
                ..Account::default()
            }
            .validate()
            .is_ok()
        };
        assert!(ok("alice") && ok("jürgen") && ok("𝕋"));
        // Whitespace by either definition, control characters, `:`.
        for c in [
            ' ', '\t', '\u{85}', '\u{a0}', '\u{2028}', '\u{feff}', '\u{1f}', '\u{7f}', ':',
        ] {
            assert!(!ok(&format!("a{c}b")), "{c:?}");
        }
        // 128 characters, not bytes.
        assert!(ok(&"é".repeat(128)));
        assert!(!ok(&"é".repeat(129)));
    }

    #[test]
    fn permissions_parse_and_allow() {
        let p: Permission = serde_json::from_str(r#""containers:ro""#).unwrap();
        assert!(p.allows("containers", false));
        assert!(!p.allows("containers", true));
        assert!(!p.allows("engines", false));
        assert!(serde_json::from_str::<Permission>(r#""containers""#).is_err());
        assert!(serde_json::from_str::<Permission>(r#""containers:xx""#).is_err());
        assert_eq!(serde_json::to_string(&p).unwrap(), r#""containers:ro""#);
    }

    #[test]
    fn built_in_roles() {
        let role = |name: &str| Role {
            name: name.into(),
            ..Role::default()
        };
        assert!(role("admin").allows("accounts", true));
        assert!(role("user").allows("containers", true));
        assert!(!role("user").allows("servicekeys", false));
        assert!(role("user").allows("registry", false));
        assert!(!role("user").allows("registry", true));
        let custom = Role {
            name: "viewer".into(),
            permissions: vec!["containers:ro".to_string().try_into().unwrap()],
            ..Role::default()
        };
        assert!(custom.allows("containers", false));
        assert!(!custom.allows("containers", true));
    }

    #[test]
    fn a_role_is_within_another_when_it_allows_no_more() {
        let role = |name: &str, perms: &[&str]| Role::new(name, perms).unwrap();
        let admin = role("admin", &[]);
        let user = role("user", &[]);
        let keys = role("keys", &["servicekeys:rw", "accounts:rw"]);
        let viewer = role("viewer", &["containers:ro"]);
        let writer = role("writer", &["containers:rw", "engines:ro"]);
        let all = role("all", &["*"]);
        // (granted, granter, allowed)
        for (granted, granter, ok) in [
            (&admin, &admin, true),
            (&admin, &keys, false),
            (&admin, &user, false),
            (&user, &keys, false),
            (&user, &user, true),
            (&user, &admin, true),
            (&viewer, &writer, true),
            (&writer, &viewer, false),
            (&viewer, &user, true),
            (&keys, &user, false),
            (&keys, &keys, true),
            (&all, &keys, false),
            (&all, &admin, true),
            (&viewer, &keys, false),
        ] {
            assert_eq!(
                granted.within(granter),
                ok,
                "{} within {}",
                granted.name,
                granter.name
            );
        }
    }
}
