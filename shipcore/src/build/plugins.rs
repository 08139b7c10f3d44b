//! Build plugins (pure): hooks before and after a build, and named methods
//! the packaging API's extension call reaches. Two come built in:
//! `dockerfile-lint` (fails a build whose base image is untagged or
//! `latest`) and `label-stamp` (labels the image with what built it).
//! Their refusals are the core's errors: [`Error::UnknownPlugin`],
//! [`Error::UnknownPluginMethod`], [`Error::PluginParams`] for a call or
//! settings, [`Error::PluginRefused`] for a build.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::{json, Value};

use super::model::{base_images, image_tag, BuildProject};
use crate::error::{Error, Result};

/// What a plugin sees of a build.
#[derive(Debug, Clone, Copy)]
pub struct BuildInput<'a> {
    pub project: &'a BuildProject,
    pub tag: &'a str,
    pub operator: &'a str,
    /// sha256 of the build context.
    pub source_digest: &'a str,
    /// When the build started (RFC 3339).
    pub now: &'a str,
    /// The plugin's settings in the project.
    pub params: &'a BTreeMap<String, Value>,
}

/// What the plugins add to a build before it runs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Prepared {
    /// Labels on the built image.
    pub labels: BTreeMap<String, String>,
    /// Lines for the build's log.
    pub notes: Vec<String>,
}

/// A build plugin.
pub trait BuildPlugin: Send + Sync + std::fmt::Debug {
    fn name(&self) -> &'static str;
    /// One line on what it does.
    fn describe(&self) -> &'static str;
    /// Checks the plugin's settings when a project is saved
    /// ([`Error::PluginParams`]).
    fn check_params(&self, params: &BTreeMap<String, Value>) -> Result<()>;
    /// Before the build: may add labels and log lines, or fail the build
    /// ([`Error::PluginRefused`] with the reason).
    fn before(&self, input: &BuildInput<'_>, out: &mut Prepared) -> Result<()>;
    /// After a build that succeeded (pushed): lines for the log.
    fn after(&self, _input: &BuildInput<'_>) -> Vec<String> {
        Vec::new()
    }
    /// The methods the extension call reaches.
    fn methods(&self) -> &'static [&'static str];
    /// Calls a method with its arguments.
    fn call(&self, method: &str, args: &Value) -> Result<Value>;
}

/// The plugins a server knows, by name.
#[derive(Debug, Clone)]
pub struct Plugins {
    all: BTreeMap<&'static str, Arc<dyn BuildPlugin>>,
}

impl Default for Plugins {
    fn default() -> Self {
        Self::builtin()
    }
}

impl Plugins {
    /// The built-in plugins.
    pub fn builtin() -> Self {
        let mut p = Plugins {
            all: BTreeMap::new(),
        };
        p.add(Arc::new(DockerfileLint));
        p.add(Arc::new(LabelStamp));
        p
    }

    /// Adds (or replaces) a plugin.
    pub fn add(&mut self, plugin: Arc<dyn BuildPlugin>) {
        self.all.insert(plugin.name(), plugin);
    }

    pub fn get(&self, name: &str) -> Result<&Arc<dyn BuildPlugin>> {
        self.all.get(name).ok_or_else(|| Error::UnknownPlugin {
            plugin: name.to_string(),
        })
    }

    pub fn names(&self) -> Vec<&'static str> {
        self.all.keys().copied().collect()
    }

    /// Calls `plugin`'s `method`.
    pub fn call(&self, plugin: &str, method: &str, args: &Value) -> Result<Value> {
        let p = self.get(plugin)?;
        if !p.methods().contains(&method) {
            return Err(Error::UnknownPluginMethod {
                plugin: plugin.to_string(),
                method: method.to_string(),
            });
        }
        p.call(method, args)
    }
}

fn flag(params: &BTreeMap<String, Value>, key: &str, default: bool) -> Result<bool> {
    match params.get(key) {
        None => Ok(default),
        Some(Value::Bool(b)) => Ok(*b),
        Some(other) => Err(Error::plugin_params(format!(
            "{key} must be true or false, not {other}"
        ))),
    }
}

/// A method's `params` argument: the settings to call it with.
fn params_of(args: &Value) -> Result<BTreeMap<String, Value>> {
    match args.get("params") {
        None => Ok(BTreeMap::new()),
        Some(v) => serde_json::from_value(v.clone())
            .map_err(|e| Error::plugin_params(format!("params: {e}"))),
    }
}

/// Fails builds whose base images are untagged (which means `latest`) or
/// tagged `latest`: such builds are not repeatable. Settings:
/// `forbidLatest` and `requireTag` (both true by default).
#[derive(Debug, Clone, Copy)]
pub struct DockerfileLint;

impl DockerfileLint {
    fn findings(
        dockerfile: &str,
        params: &BTreeMap<String, Value>,
    ) -> Result<Vec<(usize, String)>> {
        let forbid_latest = flag(params, "forbidLatest", true)?;
        let require_tag = flag(params, "requireTag", true)?;
        let mut out = Vec::new();
        let images = base_images(dockerfile);
        if images.is_empty()
            && !dockerfile.lines().any(|l| {
                l.split_whitespace()
                    .next()
                    .is_some_and(|w| w.eq_ignore_ascii_case("FROM"))
            })
        {
            out.push((0, "no FROM instruction".to_string()));
        }
        for (line, image) in images {
            match image_tag(&image) {
                None if require_tag => out.push((
                    line,
                    format!("FROM {image} has no tag (it means latest): pin a version"),
                )),
                Some("latest") if forbid_latest => out.push((
                    line,
                    format!("FROM {image} uses the latest tag: pin a version"),
                )),
                _ => {}
            }
        }
        Ok(out)
    }
}

impl BuildPlugin for DockerfileLint {
    fn name(&self) -> &'static str {
        "dockerfile-lint"
    }

    fn describe(&self) -> &'static str {
        "fails a build whose base image is untagged or tagged latest"
    }

    fn check_params(&self, params: &BTreeMap<String, Value>) -> Result<()> {
        for key in params.keys() {
            if !["forbidLatest", "requireTag"].contains(&key.as_str()) {
                return Err(Error::plugin_params(format!(
                    "dockerfile-lint has no setting {key:?} (forbidLatest, requireTag)"
                )));
            }
        }
        flag(params, "forbidLatest", true)?;
        flag(params, "requireTag", true)?;
        Ok(())
    }

    fn before(&self, input: &BuildInput<'_>, out: &mut Prepared) -> Result<()> {
        let findings = Self::findings(&input.project.dockerfile, input.params)?;
        if findings.is_empty() {
            out.notes.push("dockerfile-lint: no findings".into());
            return Ok(());
        }
        let text: Vec<String> = findings
            .iter()
            .map(|(line, m)| format!("line {line}: {m}"))
            .collect();
        Err(Error::PluginRefused {
            plugin: self.name().into(),
            reason: text.join("; "),
        })
    }

    fn methods(&self) -> &'static [&'static str] {
        &["lint"]
    }

    fn call(&self, _method: &str, args: &Value) -> Result<Value> {
        let dockerfile = args
            .get("dockerfile")
            .and_then(Value::as_str)
            .ok_or_else(|| Error::plugin_params("lint needs dockerfile (the text)"))?;
        let params = params_of(args)?;
        self.check_params(&params)?;
        let findings = Self::findings(dockerfile, &params)?;
        Ok(json!({
            "ok": findings.is_empty(),
            "findings": findings
                .iter()
                .map(|(line, message)| json!({"line": line, "message": message}))
                .collect::<Vec<_>>(),
        }))
    }
}

/// Labels the built image with the project, tag, operator, the build
/// context's digest and the build time. Setting: `prefix` (default
/// `org.shipcore.build`).
#[derive(Debug, Clone, Copy)]
pub struct LabelStamp;

const DEFAULT_PREFIX: &str = "org.shipcore.build";

impl LabelStamp {
    fn prefix(params: &BTreeMap<String, Value>) -> Result<String> {
        match params.get("prefix") {
            None => Ok(DEFAULT_PREFIX.into()),
            Some(Value::String(p))
                if !p.is_empty()
                    && p.len() <= 100
                    && p.chars()
                        .all(|c| c.is_ascii_alphanumeric() || ".-_".contains(c)) =>
            {
                Ok(p.clone())
            }
            Some(other) => Err(Error::plugin_params(format!(
                "prefix must be letters, digits, '.', '-' or '_' (up to 100), not {other}"
            ))),
        }
    }

    /// The labels for a build.
    pub fn labels(
        prefix: &str,
        project: &str,
        tag: &str,
        operator: &str,
        source_digest: &str,
        now: &str,
    ) -> BTreeMap<String, String> {
        BTreeMap::from([
            (format!("{prefix}.project"), project.to_string()),
            (format!("{prefix}.tag"), tag.to_string()),
            (format!("{prefix}.operator"), operator.to_string()),
            (format!("{prefix}.source-digest"), source_digest.to_string()),
            (format!("{prefix}.created"), now.to_string()),
        ])
    }
}

impl BuildPlugin for LabelStamp {
    fn name(&self) -> &'static str {
        "label-stamp"
    }

    fn describe(&self) -> &'static str {
        "labels the image with its project, tag, operator, source digest and build time"
    }

    fn check_params(&self, params: &BTreeMap<String, Value>) -> Result<()> {
        for key in params.keys() {
            if key != "prefix" {
                return Err(Error::plugin_params(format!(
                    "label-stamp has no setting {key:?} (prefix)"
                )));
            }
        }
        Self::prefix(params).map(|_| ())
    }

    fn before(&self, input: &BuildInput<'_>, out: &mut Prepared) -> Result<()> {
        let prefix = Self::prefix(input.params)?;
        let labels = Self::labels(
            &prefix,
            &input.project.name,
            input.tag,
            input.operator,
            input.source_digest,
            input.now,
        );
        out.notes.push(format!(
            "label-stamp: {}",
            labels.keys().cloned().collect::<Vec<_>>().join(", ")
        ));
        out.labels.extend(labels);
        Ok(())
    }

    fn methods(&self) -> &'static [&'static str] {
        &["labels"]
    }

    fn call(&self, _method: &str, args: &Value) -> Result<Value> {
        let field = |k: &str| {
            args.get(k)
                .and_then(Value::as_str)
                .ok_or_else(|| Error::plugin_params(format!("labels needs {k}")))
        };
        let params = params_of(args)?;
        self.check_params(&params)?;
        let prefix = Self::prefix(&params)?;
        let labels = Self::labels(
            &prefix,
            field("projectName")?,
            field("tag")?,
            args.get("operator").and_then(Value::as_str).unwrap_or(""),
            args.get("sourceDigest")
                .and_then(Value::as_str)
                .unwrap_or(""),
            args.get("created").and_then(Value::as_str).unwrap_or(""),
        );
        Ok(json!({ "labels": labels }))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn project(dockerfile: &str) -> BuildProject {
        BuildProject {
            name: "myweb".into(),
            dockerfile: dockerfile.into(),
            ..BuildProject::default()
        }
    }

    fn input<'a>(p: &'a BuildProject, params: &'a BTreeMap<String, Value>) -> BuildInput<'a> {
        BuildInput {
            project: p,
            tag: "1.0",
            operator: "alice",
            source_digest: "sha256:00",
            now: "2026-11-24T00:00:00Z",
            params,
        }
    }

    #[test]
    fn the_linter_fails_latest_and_untagged_bases() {
        let none = BTreeMap::new();
        for (df, fails) in [
            ("FROM busybox:1.36\nRUN true\n", false),
            ("FROM scratch\n", false),
            ("FROM busybox\n", true),
            ("FROM busybox:latest\n", true),
            ("FROM 127.0.0.1:5000/a/b\n", true),
            ("FROM a@sha256:0000\n", false),
            ("FROM busybox:1 AS b\nFROM b\n", false),
            ("RUN true\n", true),
        ] {
            let p = project(df);
            let mut out = Prepared::default();
            let r = DockerfileLint.before(&input(&p, &none), &mut out);
            assert_eq!(r.is_err(), fails, "{df}: {r:?}");
        }
        let relaxed = BTreeMap::from([("forbidLatest".to_string(), json!(false))]);
        let p = project("FROM busybox:latest\n");
        DockerfileLint
            .before(&input(&p, &relaxed), &mut Prepared::default())
            .unwrap();
        let e = project("FROM busybox\n");
        let err = DockerfileLint
            .before(&input(&e, &none), &mut Prepared::default())
            .unwrap_err();
        assert!(
            matches!(&err, Error::PluginRefused { plugin, .. } if plugin == "dockerfile-lint"),
            "{err:?}"
        );
        let err = err.to_string();
        assert!(
            err.starts_with("dockerfile-lint: line 1") && err.contains("no tag"),
            "{err}"
        );
        assert!(DockerfileLint
            .check_params(&BTreeMap::from([("nope".to_string(), json!(1))]))
            .is_err());
        assert!(DockerfileLint
            .check_params(&BTreeMap::from([("requireTag".to_string(), json!("yes"))]))
            .is_err());
    }

    #[test]
    fn the_stamper_labels_and_the_extension_call_reaches_methods() {
        let none = BTreeMap::new();
        let p = project("FROM scratch\n");
        let mut out = Prepared::default();
        LabelStamp.before(&input(&p, &none), &mut out).unwrap();
        assert_eq!(out.labels["org.shipcore.build.project"], "myweb");
        assert_eq!(out.labels["org.shipcore.build.operator"], "alice");
        assert_eq!(out.labels["org.shipcore.build.source-digest"], "sha256:00");
        let plugins = Plugins::builtin();
        let v = plugins
            .call(
                "label-stamp",
                "labels",
                &json!({"projectName": "a", "tag": "1", "params": {"prefix": "x.y"}}),
            )
            .unwrap();
        assert_eq!(v["labels"]["x.y.project"], "a");
        let v = plugins
            .call(
                "dockerfile-lint",
                "lint",
                &json!({"dockerfile": "FROM busybox\n"}),
            )
            .unwrap();
        assert_eq!(v["ok"], false);
        assert_eq!(v["findings"][0]["line"], 1);
        let e = plugins.call("aa", "download file", &json!({})).unwrap_err();
        assert!(
            matches!(&e, Error::UnknownPlugin { plugin } if plugin == "aa"),
            "{e:?}"
        );
        assert_eq!(e.to_string(), "no plugin \"aa\"");
        let e = plugins
            .call("label-stamp", "download file", &json!({}))
            .unwrap_err();
        assert!(matches!(e, Error::UnknownPluginMethod { .. }), "{e:?}");
        assert_eq!(
            e.to_string(),
            "plugin \"label-stamp\" has no method \"download file\""
        );
        let e = plugins
            .call("dockerfile-lint", "lint", &json!({}))
            .unwrap_err();
        assert!(matches!(e, Error::PluginParams { .. }), "{e:?}");
        assert_eq!(e.to_string(), "lint needs dockerfile (the text)");
        assert!(LabelStamp
            .check_params(&BTreeMap::from([("prefix".to_string(), json!("a b"))]))
            .is_err());
    }
}
