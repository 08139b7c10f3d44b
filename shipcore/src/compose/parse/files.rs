//! Secrets and configs: top-level sources (a file among the project's, a
//! variable of its environment, or inline content) and the services' short
//! and long references to them, put into containers as files.

#[allow(clippy::wildcard_imports)]
use super::*;

impl Reader<'_> {
    /// A top-level secret (`secret`) or config, with its content read.
    pub(super) fn file_source(&self, at: At<'_>, v: Value, secret: bool) -> Result<FileSource> {
        let mut source = None;
        for (k, v) in self.fields(at, v)? {
            let at = At { key: &k, ..at };
            match k.as_str() {
                "file" => {
                    let path = self.string(at, &self.interp(at, v)?)?;
                    let text = self.extras.file(&path).ok_or_else(|| {
                        self.fail(at, format!("{path} is not among the project's files (send it in the project's files)"))
                    })?;
                    source = Some(FileSource {
                        from: FileFrom::File(path),
                        content: text.to_string(),
                    });
                }
                "environment" => {
                    let var = self.string(at, &v)?;
                    let value = self.env.get(&var).ok_or_else(|| {
                        self.fail(at, format!("{var} is not in the project's environment"))
                    })?;
                    source = Some(FileSource {
                        from: FileFrom::Environment(var),
                        content: value.clone(),
                    });
                }
                "content" if !secret => {
                    let text = self.string(at, &self.interp(at, v)?)?;
                    source = Some(FileSource {
                        from: FileFrom::Content,
                        content: text,
                    });
                }
                "external" => {
                    return Err(self.fail(
                        at,
                        "external secrets and configs are a swarm's: give a file, environment or content",
                    ))
                }
                // The engine's name of it: no file of the engine is named.
                "name" => {
                    self.string(at, &v)?;
                }
                _ => return Err(self.fail(at, unsupported(&k))),
            }
        }
        source.ok_or_else(|| {
            let what = if secret {
                "file or environment"
            } else {
                "file, environment or content"
            };
            self.fail(at, format!("needs one of {what}"))
        })
    }

    /// A service's `secrets` or `configs`: names, or `{source, target, uid,
    /// gid, mode}`.
    pub(super) fn file_mounts(&self, at: At<'_>, v: Value, secret: bool) -> Result<Vec<FileMount>> {
        let mut out = Vec::new();
        for item in self.list(at, v)? {
            let mut m = FileMount {
                mode: 0o444,
                secret,
                ..FileMount::default()
            };
            match item {
                Value::Object(_) => {
                    for (k, v) in self.fields(at, item)? {
                        match k.as_str() {
                            "source" => m.source = self.string(at, &v)?,
                            "target" => m.target = self.string(at, &v)?,
                            "uid" => m.uid = self.id_number(at, &v)?,
                            "gid" => m.gid = self.id_number(at, &v)?,
                            "mode" => {
                                let mode = self.integer(at, &v)?;
                                m.mode = u32::try_from(mode)
                                    .ok()
                                    .filter(|m| *m <= 0o7777)
                                    .ok_or_else(|| {
                                        self.fail(at, format!("mode {mode} is not a file mode"))
                                    })?;
                            }
                            _ => return Err(self.fail(at, unsupported(&k))),
                        }
                    }
                }
                v => m.source = self.string(at, &v)?,
            }
            if m.source.is_empty() {
                return Err(self.fail(at, "names no source"));
            }
            m.target = match (m.target.as_str(), secret) {
                ("", true) => format!("/run/secrets/{}", m.source),
                ("", false) => format!("/{}", m.source),
                (t, _) if t.starts_with('/') => t.to_string(),
                (t, true) => format!("/run/secrets/{t}"),
                (t, false) => format!("/{t}"),
            };
            if m.target.split('/').any(|p| p == "..") {
                return Err(self.fail(
                    at,
                    format!("target {:?} climbs out of its folder", m.target),
                ));
            }
            out.push(m);
        }
        Ok(out)
    }

    fn id_number(&self, at: At<'_>, v: &Value) -> Result<u32> {
        scalar(v)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| self.fail(at, "must be a number"))
    }
}
