//! Accounts (argon2id password hashes) and roles (the built-in `admin` and
//! `user`, and named permission sets), and the first start's `admin`.

use super::{hash_password, new_id, new_key, Access, ACCOUNTS, ROLES};
use crate::error::{Error, Result};
use crate::model::{Account, EventType, Permission, Role, RoleRef};
use crate::store::{get_json, put_json, Expect};

impl Access {
    /// On first start: the built-in roles and an `admin` account. Returns the
    /// admin password when the account was created now (`password`, or a
    /// random one when `None`), so it can be shown once.
    pub async fn bootstrap(&self, password: Option<String>) -> Result<Option<String>> {
        for name in ["admin", "user"] {
            if get_json::<Role>(self.store.as_ref(), &format!("{ROLES}{name}"))
                .await?
                .is_none()
            {
                let role = Role {
                    id: new_id()?,
                    name: name.into(),
                    permissions: Vec::new(),
                };
                // Replicas starting together race for it: one makes it.
                match put_json(
                    self.store.as_ref(),
                    &format!("{ROLES}{name}"),
                    &role,
                    Expect::Absent,
                )
                .await
                {
                    Ok(_) | Err(Error::Conflict { .. }) => {}
                    Err(e) => return Err(e),
                }
            }
        }
        if !self.store.list(ACCOUNTS).await?.is_empty() {
            return Ok(None);
        }
        let password = match password {
            Some(p) if !p.is_empty() => p,
            _ => new_key(20)?,
        };
        match self.create_account("admin", &password, "admin").await {
            Ok(_) => Ok(Some(password)),
            // Another replica made it first.
            Err(Error::Exists { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    pub async fn accounts(&self) -> Result<Vec<Account>> {
        self.list(ACCOUNTS).await
    }

    /// One account, by name.
    pub async fn account(&self, username: &str) -> Result<Account> {
        get_json::<Account>(self.store.as_ref(), &format!("{ACCOUNTS}{username}"))
            .await?
            .map(|(a, _)| a)
            .ok_or_else(|| Error::missing("account", username))
    }

    pub async fn create_account(
        &self,
        username: &str,
        password: &str,
        role: &str,
    ) -> Result<Account> {
        super::tokens::check_password(password)?;
        let role = self.role(role).await?;
        let account = Account {
            id: new_id()?,
            username: username.into(),
            password: hash_password(password)?,
            role: RoleRef {
                name: role.name,
                id: role.id,
            },
        };
        account.validate()?;
        self.create(
            &format!("{ACCOUNTS}{username}"),
            &account,
            "account",
            username,
        )
        .await?;
        self.note(EventType::AddAccount, format!("username={username}"))
            .await;
        Ok(account)
    }

    /// Deletes an account; its client certificates are revoked first, so
    /// that none outlives it (nor stands for a later account of its name),
    /// and its login tokens end.
    pub async fn delete_account(&self, username: &str) -> Result<()> {
        self.revoke_certificates_of(username).await?;
        self.end_tokens(username).await?;
        let deleted = self
            .store
            .delete(&format!("{ACCOUNTS}{username}"), Expect::Any)
            .await?;
        self.forget_principals_where(|p| p.name == username);
        match deleted {
            Some(_) => {
                self.note(EventType::RemoveAccount, format!("username={username}"))
                    .await;
                Ok(())
            }
            None => Err(Error::missing("account", username)),
        }
    }

    pub async fn roles(&self) -> Result<Vec<Role>> {
        self.list(ROLES).await
    }

    pub async fn role(&self, name: &str) -> Result<Role> {
        get_json::<Role>(self.store.as_ref(), &format!("{ROLES}{name}"))
            .await?
            .map(|(r, _)| r)
            .ok_or_else(|| Error::missing("role", name))
    }

    pub async fn create_role(&self, name: &str, permissions: Vec<Permission>) -> Result<Role> {
        crate::model::validate_name("name", name)?;
        let role = Role {
            id: new_id()?,
            name: name.into(),
            permissions,
        };
        self.create(&format!("{ROLES}{name}"), &role, "role", name)
            .await?;
        self.note(EventType::AddRole, format!("name={name}")).await;
        Ok(role)
    }

    /// Deletes a role no account uses; the built-in ones stay.
    pub async fn delete_role(&self, name: &str) -> Result<()> {
        if name == "admin" || name == "user" {
            return Err(Error::State {
                what: format!("role {name}"),
                state: "built in".into(),
                reason: "the built-in roles cannot be deleted".into(),
            });
        }
        self.role(name).await?;
        if self.accounts().await?.iter().any(|a| a.role.name == name) {
            return Err(Error::Exists {
                kind: "account with role".into(),
                id: name.into(),
            });
        }
        if self.key_roles().await?.iter().any(|r| r == name) {
            return Err(Error::Exists {
                kind: "service key with role".into(),
                id: name.into(),
            });
        }
        self.store
            .delete(&format!("{ROLES}{name}"), Expect::Any)
            .await?;
        self.forget_principals_where(|p| p.role.name == name);
        self.note(EventType::RemoveRole, format!("name={name}"))
            .await;
        Ok(())
    }
}
