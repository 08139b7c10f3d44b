//! The one admission policy: what a container, volume or network asks of
//! the engine's host, and whether the account that asks may have it.
//!
//! Every object the cluster makes, on every path (the cluster API's
//! deploys, compose services, the Docker endpoint's creates, the reconcile
//! loop's adoptions and reschedules, scale, redeploys, builds), is judged
//! here: its request is read into [`Want`]s (a field and the
//! [`Capability`] it needs), and [`admit`] answers with the first want the
//! owner's role does not hold, naming the field and the capability. This
//! is Kubernetes' Pod Security admission in the shape of Portainer's
//! security settings: capabilities are permission areas (`host-binds:rw`),
//! held by `admin`, never by `user`, grantable to custom roles.
//!
//! Labels under [`RESERVED_LABEL_PREFIX`] are the cluster's own: no request
//! may set them, whoever asks.
//!
//! Pure: no IO, no clock.

use serde::{Deserialize, Serialize};

use super::access::Role;
use crate::error::{Error, Result};

/// What a request may ask of the engine's host beyond an ordinary
/// container: each is a permission area a role holds or not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Capability {
    /// Mount a path of the engine's host (bind mounts, Docker's `Binds`
    /// with a host path).
    HostBinds,
    /// Run a privileged container.
    Privileged,
    /// Add Linux capabilities (`cap_add`).
    CapAdd,
    /// Pass the host's devices into a container.
    Devices,
    /// Share a namespace of the host: network, pid, ipc, uts or user.
    HostNamespaces,
    /// Make a volume with driver options or a driver other than `local`
    /// (a local volume with `o: bind` is a bind mount of the host).
    VolumeOptions,
    /// Make a network with a driver other than `bridge`, or driver options.
    NetworkDrivers,
    /// Security options and sysctls (`seccomp=unconfined`, ...).
    SecurityOptions,
    /// A logging driver that sends a container's logs off its engine
    /// (syslog, gelf, fluentd, ...: the engine's host connects where the
    /// request says).
    LogDrivers,
}

impl Capability {
    /// Every capability, in the order tables list them.
    pub const ALL: [Capability; 9] = [
        Capability::HostBinds,
        Capability::Privileged,
        Capability::CapAdd,
        Capability::Devices,
        Capability::HostNamespaces,
        Capability::VolumeOptions,
        Capability::NetworkDrivers,
        Capability::SecurityOptions,
        Capability::LogDrivers,
    ];

    /// The permission area that grants it (`host-binds:rw`).
    pub fn area(self) -> &'static str {
        match self {
            Capability::HostBinds => "host-binds",
            Capability::Privileged => "privileged",
            Capability::CapAdd => "cap-add",
            Capability::Devices => "devices",
            Capability::HostNamespaces => "host-namespaces",
            Capability::VolumeOptions => "volume-options",
            Capability::NetworkDrivers => "network-drivers",
            Capability::SecurityOptions => "security-options",
            Capability::LogDrivers => "log-drivers",
        }
    }

    /// Whether `area` is a capability's area.
    pub fn is_area(area: &str) -> bool {
        Self::ALL.iter().any(|c| c.area() == area)
    }
}

impl std::fmt::Display for Capability {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.area())
    }
}

/// One thing a request asks for: the field that asks, and what it needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Want {
    /// The request's field, as its family names it (`volumes[0]`,
    /// `HostConfig.Privileged`, `services.web.volumes`).
    pub field: String,
    pub capability: Capability,
}

impl Want {
    pub fn new(field: impl Into<String>, capability: Capability) -> Self {
        Want {
            field: field.into(),
            capability,
        }
    }
}

/// Who an object is admitted for: the account (or `key:<prefix>` for a
/// service key) and the role it held then. Recorded with what the cluster
/// keeps, so what the cluster does later on its own (reschedule, redeploy,
/// scale) is judged again under the same owner.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Owner {
    pub name: String,
    pub role: Role,
}

impl Owner {
    /// The owner of what the cluster finds but did not record (a
    /// container adopted after its store was lost): trusted with nothing.
    pub fn unknown() -> Self {
        Owner {
            name: String::new(),
            role: Role {
                name: "user".into(),
                ..Role::default()
            },
        }
    }

    /// The cluster itself (builds it runs for an admitted project, objects
    /// of earlier versions that recorded no owner): an admin.
    pub fn system() -> Self {
        Owner {
            name: String::new(),
            role: Role {
                name: "admin".into(),
                ..Role::default()
            },
        }
    }

    /// Whether this owner holds `capability`.
    pub fn holds(&self, capability: Capability) -> bool {
        self.role.allows(capability.area(), true)
    }

    /// Whether this owner may see (or, with `write`, change) every
    /// account's objects of `area`, not only its own.
    pub fn reaches_all(&self, area: &str, write: bool) -> bool {
        self.role.reaches_all(area, write)
    }

    /// Whether an object of `area` owned by `owner` is this owner's to see
    /// (or, with `write`, to change). Objects of earlier versions record
    /// no owner: those are the admins'.
    pub fn may(&self, area: &str, owner: &str, write: bool) -> bool {
        (!owner.is_empty() && owner == self.name) || self.reaches_all(area, write)
    }
}

/// Admits a request that asks for `wants` for `owner`, or refuses it with
/// the first field whose capability the owner's role does not hold.
pub fn admit(owner: &Owner, wants: &[Want]) -> Result<()> {
    match wants.iter().find(|w| !owner.holds(w.capability)) {
        None => Ok(()),
        Some(w) => Err(Error::Forbidden {
            reason: format!(
                "{} needs the capability {}, which role {} does not hold",
                w.field, w.capability, owner.role.name
            ),
        }),
    }
}

/// Labels that start with this are the cluster's own (ownership, the
/// request it made a container from): no request sets them.
pub const RESERVED_LABEL_PREFIX: &str = "io.shipcore.";

/// Refuses a request's labels that the cluster reserves; `field` names
/// where they were given.
pub fn check_labels<'a>(field: &str, keys: impl IntoIterator<Item = &'a String>) -> Result<()> {
    for key in keys {
        if key.starts_with(RESERVED_LABEL_PREFIX) {
            return Err(Error::Forbidden {
                reason: format!(
                    "{field}: label {key:?} is reserved: {RESERVED_LABEL_PREFIX}* labels are the cluster's own"
                ),
            });
        }
    }
    Ok(())
}

/// What a volume asks for: a driver other than `local`, or driver options
/// (a local volume with `type: none, o: bind` mounts a host path).
pub fn volume_wants(field: &str, driver: &str, has_options: bool) -> Vec<Want> {
    if has_options || !matches!(driver, "" | "local") {
        vec![Want::new(field, Capability::VolumeOptions)]
    } else {
        Vec::new()
    }
}

/// What a network asks for: a driver other than `bridge` (host, macvlan,
/// ipvlan, overlay, plugins), or driver options.
pub fn network_wants(field: &str, driver: &str, has_options: bool) -> Vec<Want> {
    if has_options || !matches!(driver, "" | "bridge") {
        vec![Want::new(field, Capability::NetworkDrivers)]
    } else {
        Vec::new()
    }
}

/// What a namespace mode asks for: `host` shares the host's.
pub fn namespace_wants(field: &str, mode: &str) -> Vec<Want> {
    if mode == "host" {
        vec![Want::new(field, Capability::HostNamespaces)]
    } else {
        Vec::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn owner(role: &str, perms: &[&str]) -> Owner {
        Owner {
            name: "someone".into(),
            role: Role::new(role, perms).unwrap(),
        }
    }

    #[test]
    fn admin_holds_every_capability_user_none_custom_roles_what_they_are_granted() {
        let admin = owner("admin", &[]);
        let user = owner("user", &[]);
        let binds = owner("binder", &["host-binds:rw", "containers:rw"]);
        let all = owner("all", &["*"]);
        for c in Capability::ALL {
            assert!(admin.holds(c), "{c}");
            assert!(all.holds(c), "{c}");
            assert!(!user.holds(c), "{c}");
            assert_eq!(binds.holds(c), c == Capability::HostBinds, "{c}");
        }
        let refused = admit(&user, &[Want::new("volumes[0]", Capability::HostBinds)])
            .unwrap_err()
            .to_string();
        assert_eq!(
            refused,
            "forbidden: volumes[0] needs the capability host-binds, which role user does not hold"
        );
        assert!(admit(&binds, &[Want::new("volumes[0]", Capability::HostBinds)]).is_ok());
        assert!(admit(&user, &[]).is_ok());
    }

    #[test]
    fn reserved_labels_are_refused_for_everyone() {
        let keys = ["app".to_string(), "io.shipcore.cluster".to_string()];
        let e = check_labels("labels", &keys).unwrap_err().to_string();
        assert!(e.contains("io.shipcore.cluster"), "{e}");
        assert!(check_labels("labels", &["io.shipcorex".to_string()]).is_ok());
    }

    #[test]
    fn volumes_and_networks() {
        assert!(volume_wants("v", "local", false).is_empty());
        assert!(volume_wants("v", "", false).is_empty());
        assert_eq!(volume_wants("v", "local", true).len(), 1);
        assert_eq!(volume_wants("v", "nfs", false).len(), 1);
        assert!(network_wants("n", "bridge", false).is_empty());
        assert_eq!(network_wants("n", "macvlan", false).len(), 1);
        assert_eq!(network_wants("n", "bridge", true).len(), 1);
        assert!(namespace_wants("m", "container:x").is_empty());
        assert_eq!(namespace_wants("m", "host").len(), 1);
    }

    #[test]
    fn owners_see_their_own_and_admins_all() {
        let user = owner("user", &[]);
        let admin = owner("admin", &[]);
        let lead = owner("lead", &["projects:rw", "all-projects:ro"]);
        assert!(user.may("projects", "someone", true));
        assert!(!user.may("projects", "other", false));
        assert!(!user.may("projects", "", false));
        assert!(admin.may("projects", "other", true));
        assert!(lead.may("projects", "other", false));
        assert!(!lead.may("projects", "other", true));
        assert!(!lead.may("builds", "other", false));
    }
}
